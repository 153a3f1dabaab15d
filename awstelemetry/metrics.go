package awstelemetry

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/investigate"
)

// maxMetricQueries is GetMetricData's limit of queries per call.
const maxMetricQueries = 500

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
	for i, q := range queries {
		mdq[i] = cwtypes.MetricDataQuery{
			Id: aws.String(metricQueryID(offset + i)),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String(q.Metric.Namespace),
					MetricName: aws.String(q.Metric.Name),
					Dimensions: dimensions(q.Metric.Dims),
				},
				Period: aws.Int32(metricPeriod(q.Period)),
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
	p := cloudwatch.NewGetMetricDataPaginator(s.c.api.cw, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: mdq,
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		ScanBy:            cwtypes.ScanByTimestampAscending,
	})
	for page := 0; p.HasMorePages() && page < 50; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return wrap("cloudwatch get metric data", err)
		}
		for _, r := range out.MetricDataResults {
			i, ok := parseMetricQueryID(aws.ToString(r.Id))
			i -= offset
			if !ok || i < 0 || i >= len(queries) {
				continue
			}
			n := min(len(r.Timestamps), len(r.Values))
			for k := 0; k < n; k++ {
				points[i] = append(points[i], point{r.Timestamps[k], r.Values[k]})
			}
		}
	}
	for i, pts := range points {
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].t.Before(pts[b].t) })
		ser := &series[offset+i]
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
	keys := sortedKeys(d)
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

func statOrDefault(s string) string {
	if s == "" {
		return "Average"
	}
	return s
}
