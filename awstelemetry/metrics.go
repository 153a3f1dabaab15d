package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/investigate"
)

// maxMetricQueries is GetMetricData's limit of queries per call.
const maxMetricQueries = 500

// maxMetricPages is how many pages of one query set Metrics reads. A page
// holds up to 100,800 datapoints ("If you omit this, the default of 100,800
// is used", MaxDatapoints), so 50 pages are far more than an
// investigation's window; a query set cut there is reported, not dropped.
const maxMetricPages = 50

// Metrics reads many series with GetMetricData: up to 500 queries a call,
// the batches concurrently, each paginated. The engine's query ids may be
// anything; the calls use ids "q0", "q1", … (CloudWatch wants
// ^[a-z][a-zA-Z0-9_]*$) and the results carry the engine's ids back, in
// the order of the queries. A query with no datapoints gives an empty
// series.
func (s *Session) Metrics(ctx context.Context, queries []investigate.MetricQuery, start, end time.Time) (out []investigate.Series, err error) {
	defer recoverTo(&err, "cloudwatch metrics")
	if len(queries) == 0 {
		return nil, nil
	}
	ctx = s.ctx(ctx)
	series := make([]investigate.Series, len(queries))
	for i, q := range queries {
		series[i].ID = q.ID
	}
	var (
		wg   sync.WaitGroup
		errs errorList
	)
	for lo := 0; lo < len(queries); lo += maxMetricQueries {
		hi := min(lo+maxMetricQueries, len(queries))
		spawn(&wg, errs.add, func() {
			errs.add(s.metricBatch(ctx, queries[lo:hi], lo, series, start, end))
		})
	}
	wg.Wait()
	if e := errs.list(); len(e) > 0 {
		return nil, e[0]
	}
	return series, nil
}

// metricBatch runs one GetMetricData query set (paginated) and fills
// series[offset+i] for its queries.
func (s *Session) metricBatch(ctx context.Context, queries []investigate.MetricQuery, offset int, series []investigate.Series, start, end time.Time) error {
	mdq := make([]cwtypes.MetricDataQuery, len(queries))
	periods := make([]int32, len(queries))
	ix := s.topology(ctx, false)
	for i, q := range queries {
		periods[i] = choosePeriod(q.Period, start, s.c.opts.Present(), ix.resolution(q.Metric))
		mdq[i] = cwtypes.MetricDataQuery{
			Id: aws.String(metricQueryID(offset + i)),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String(q.Metric.Namespace),
					MetricName: aws.String(q.Metric.Name),
					Dimensions: dimensions(q.Metric.Dims),
				},
				Period: aws.Int32(periods[i]),
				Stat:   aws.String(statOrDefault(q.Stat)),
			},
			ReturnData: aws.Bool(true),
		}
	}
	type point struct {
		t time.Time
		v float64
	}
	points := make([][]point, len(queries))
	status := make([]cwtypes.StatusCode, len(queries))
	var notes messageSet
	p := cloudwatch.NewGetMetricDataPaginator(s.c.api.cw, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: mdq,
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		ScanBy:            cwtypes.ScanByTimestampAscending,
	})
	page := 0
	for ; p.HasMorePages() && page < maxMetricPages; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return wrap("cloudwatch get metric data", err)
		}
		for _, m := range out.Messages {
			notes.add("", m)
		}
		for _, r := range out.MetricDataResults {
			i, ok := parseMetricQueryID(aws.ToString(r.Id))
			i -= offset
			if !ok || i < 0 || i >= len(queries) {
				continue
			}
			status[i] = r.StatusCode
			for _, m := range r.Messages {
				notes.add(metricName(queries[i].Metric), m)
			}
			n := min(len(r.Timestamps), len(r.Values))
			for k := 0; k < n; k++ {
				points[i] = append(points[i], point{r.Timestamps[k], r.Values[k]})
			}
		}
	}
	// Nothing partial stays silent: a query whose last status is not
	// Complete, the pages left unread, and CloudWatch's messages are each a
	// problem of the session, reported in the investigation's unavailable.
	s.addProblems(statusProblems(queries, status, p.HasMorePages(), page)...)
	s.addProblems(notes.errors()...)
	for i, pts := range points {
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].t.Before(pts[b].t) })
		ser := &series[offset+i]
		ser.Period = time.Duration(periods[i]) * time.Second
		ser.Times = make([]time.Time, 0, len(pts))
		ser.Values = make([]float64, 0, len(pts))
		for _, pt := range pts {
			ser.Times = append(ser.Times, pt.t)
			ser.Values = append(ser.Values, pt.v)
		}
	}
	return nil
}

func metricQueryID(i int) string { return "q" + strconv.Itoa(i) }

func parseMetricQueryID(id string) (int, bool) {
	if len(id) < 2 || id[0] != 'q' {
		return 0, false
	}
	n, err := strconv.Atoi(id[1:])
	return n, err == nil
}

func dimensions(d map[string]string) []cwtypes.Dimension {
	keys := slices.Sorted(maps.Keys(d))
	out := make([]cwtypes.Dimension, 0, len(keys))
	for _, k := range keys {
		out = append(out, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(d[k])})
	}
	return out
}

// metricPeriod rounds a period to one CloudWatch accepts: 1, 5, 10, 30 or
// a multiple of 60 seconds; 60 when unset.
func metricPeriod(p time.Duration) int32 {
	sec := int32(p / time.Second)
	switch {
	case sec <= 0:
		return 60
	case sec < 60:
		for _, v := range []int32{1, 5, 10, 30} {
			if sec <= v {
				return v
			}
		}
		return 60
	default:
		return (sec + 59) / 60 * 60
	}
}

// choosePeriod is the period to ask a metric for: the one asked, rounded
// to one CloudWatch accepts (metricPeriod); no shorter than the metric is
// published at (resolution, 0 when unknown); and a multiple of what
// CloudWatch still keeps for data as old as start. The API reference
// (MetricStat, Period): "If the StartTime parameter specifies a time stamp
// that is greater than 3 hours ago, you must specify the period as follows
// or no data points in that time range is returned: Start time between 3
// hours and 15 days ago - Use a multiple of 60 seconds (1 minute). Start
// time between 15 and 63 days ago - Use a multiple of 300 seconds (5
// minutes). Start time greater than 63 days ago - Use a multiple of 3600
// seconds (1 hour)."
func choosePeriod(asked time.Duration, start, present time.Time, resolution time.Duration) int32 {
	p := metricPeriod(asked)
	if r := int32(resolution / time.Second); r > p {
		p = r
	}
	age := present.Sub(start)
	var unit int32
	switch {
	case age > 63*24*time.Hour:
		unit = 3600
	case age > 15*24*time.Hour:
		unit = 300
	case age > 3*time.Hour:
		unit = 60
	default:
		return p
	}
	return (p + unit - 1) / unit * unit
}

// resolution is how often a metric is published, where the topology
// knows it: EC2 instances with basic monitoring publish their AWS/EC2
// metrics every 5 minutes (detailed monitoring: every minute), and a
// shorter period only returns the same 5-minute aggregates, sparsely.
// Zero when unknown.
func (ix *topoIndex) resolution(m investigate.Metric) time.Duration {
	if ix == nil || m.Namespace != "AWS/EC2" {
		return 0
	}
	if r, ok := ix.byID[m.Dims["InstanceId"]]; ok && r.Config["monitoring"] == "basic" {
		return 5 * time.Minute
	}
	return 0
}

func statOrDefault(s string) string {
	if s == "" {
		return "Average"
	}
	return s
}

// metricName names a metric for people: namespace, name and dimensions.
func metricName(m investigate.Metric) string {
	var b strings.Builder
	b.WriteString(m.Namespace + " " + m.Name)
	for _, k := range slices.Sorted(maps.Keys(m.Dims)) {
		b.WriteString(" " + k + "=" + m.Dims[k])
	}
	return b.String()
}

// statusProblems turns the queries' last StatusCode into problems, one per
// status with the number of series and the first of them. The API
// reference (MetricDataResult): "Complete indicates that all data points
// in the requested time range were returned. PartialData means that an
// incomplete set of data points were returned. You can use the NextToken
// value that was returned and repeat your request to get more data points.
// […] InternalError indicates that an error occurred. Retry your request
// using NextToken, if present." Forbidden is the fourth value. Metrics
// follows NextToken while it is given, so PartialData or InternalError at
// the end means the pages ran out (more is true) or CloudWatch gave up.
func statusProblems(queries []investigate.MetricQuery, status []cwtypes.StatusCode, more bool, pages int) []error {
	type group struct {
		n     int
		first string
	}
	groups := map[cwtypes.StatusCode]*group{}
	var order []cwtypes.StatusCode
	for i, st := range status {
		if st == "" || st == cwtypes.StatusCodeComplete {
			continue
		}
		g := groups[st]
		if g == nil {
			g = &group{first: metricName(queries[i].Metric)}
			groups[st] = g
			order = append(order, st)
		}
		g.n++
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	var errs []error
	for _, st := range order {
		g := groups[st]
		errs = append(errs, &MetricStatusError{Status: string(st), Series: g.n, Of: len(queries), First: g.first})
	}
	if more {
		errs = append(errs, fmt.Errorf("cloudwatch get metric data: stopped after %d pages with more datapoints to read for %d series", pages, len(queries)))
	}
	return errs
}

// MetricStatusError says that GetMetricData answered some series with a
// status other than Complete: PartialData, InternalError or Forbidden.
type MetricStatusError struct {
	Status string
	// Series of Of queries had the status; First names one.
	Series, Of int
	First      string
}

func (e *MetricStatusError) Error() string {
	what := "incomplete"
	switch e.Status {
	case string(cwtypes.StatusCodeForbidden):
		what = "not permitted"
	case string(cwtypes.StatusCodeInternalError):
		what = "failed inside CloudWatch"
	}
	return fmt.Sprintf("cloudwatch get metric data: %d of %d series %s (%s), first %s", e.Series, e.Of, what, e.Status, e.First)
}

// messageSet gathers GetMetricData's messages, each once.
type messageSet struct {
	seen  map[string]bool
	order []string
}

func (m *messageSet) add(metric string, d cwtypes.MessageData) {
	text := aws.ToString(d.Code)
	if v := aws.ToString(d.Value); v != "" {
		text += ": " + v
	}
	if text == "" {
		return
	}
	if metric != "" {
		text = metric + ": " + text
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if !m.seen[text] {
		m.seen[text] = true
		m.order = append(m.order, text)
	}
}

// maxMetricMessages is how many distinct messages one query set reports;
// the rest are counted.
const maxMetricMessages = 5

func (m *messageSet) errors() []error {
	var errs []error
	for i, t := range m.order {
		if i == maxMetricMessages {
			errs = append(errs, fmt.Errorf("cloudwatch get metric data: %d more messages", len(m.order)-i))
			break
		}
		errs = append(errs, errors.New("cloudwatch get metric data: "+t))
	}
	return errs
}
