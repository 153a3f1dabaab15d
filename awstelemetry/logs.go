package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/unstuck/unstuck/investigate"
)

// ErrLogBytesCap is the cause of a log query refused or stopped because the
// session's Logs Insights budget (Options.LogBytesCap) is spent.
var ErrLogBytesCap = errors.New("log bytes cap reached")

// The Logs Insights queries. The first two run concurrently; the third,
// per error pattern and stream, runs after them when there are error
// patterns and several streams to tell apart.
const (
	streamQuery  = "stats count(*) as lines by @logStream | sort lines desc | limit 10000"
	patternQuery = "pattern @message | sort @sampleCount desc | limit 50"
)

// maxLogQueryTime bounds a log query when the context has no deadline.
const maxLogQueryTime = 2 * time.Minute

// Logs summarises a log group's lines in a window with Logs Insights:
// lines by stream (`stats count(*) by @logStream`), the most frequent
// message patterns (`pattern @message`), and, for up to five error
// patterns, their lines by stream. Queries poll with back-off until done
// or the context's deadline, and stop when the session's byte budget runs
// out.
func (s *Session) Logs(ctx context.Context, q investigate.LogQuery) (st investigate.LogStats, err error) {
	defer recoverTo(&err, "logs insights")
	st.Group = q.Group
	if !q.End.After(q.Start) {
		return st, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxLogQueryTime)
		defer cancel()
	}
	ctx = s.ctx(ctx)

	var (
		wg                   sync.WaitGroup
		streams, patterns    []map[string]string
		sBytes, pBytes       int64
		streamErr, patternEr error
	)
	spawn(&wg, func(err error) { streamErr = err }, func() {
		streams, sBytes, streamErr = s.logQuery(ctx, q, streamQuery)
	})
	spawn(&wg, func(err error) { patternEr = err }, func() {
		patterns, pBytes, patternEr = s.logQuery(ctx, q, patternQuery)
	})
	wg.Wait()
	st.BytesScanned = sBytes + pBytes
	if streamErr == nil {
		streamErr = lacking(q.Group, streamQuery, streams, "@logStream", "lines")
	}
	if streamErr != nil {
		return st, streamErr
	}
	st.ByStream = map[string]int{}
	for _, row := range streams {
		n, _ := strconv.Atoi(row["lines"])
		st.ByStream[row["@logStream"]] += n
		st.Lines += n
	}
	if patternEr == nil {
		patternEr = lacking(q.Group, patternQuery, patterns, "@pattern", "@sampleCount")
	}
	if patternEr != nil {
		// Log groups in the Infrequent Access class do not support
		// `pattern`; the line counts still stand.
		s.addProblems(patternEr)
		return st, nil
	}
	st.Patterns = parsePatterns(patterns)

	if len(st.ByStream) > 1 {
		n, err := s.patternsByStream(ctx, q, st.Patterns)
		st.BytesScanned += n
		if err != nil {
			s.addProblems(err)
		}
	}
	return st, nil
}

var patternToken = regexp.MustCompile(`<(\*|[A-Za-z][A-Za-z_]*-\d+)>`)

// parsePatterns reads `pattern` results, most frequent first, with every
// variable token written <*>.
func parsePatterns(rows []map[string]string) []investigate.LogPattern {
	var out []investigate.LogPattern
	for _, row := range rows {
		p := row["@pattern"]
		if p == "" {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(row["@sampleCount"], ".0"))
		out = append(out, investigate.LogPattern{Pattern: patternToken.ReplaceAllString(p, "<*>"), Count: n})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}

// errorLike matches patterns that report a failure, as the engine's error
// checks read them.
var errorLike = regexp.MustCompile(`(?i)(\berror\b|exception|\bfail|fatal|panic|denied|not authorized|unauthori[sz]ed|forbidden|timed? ?out|refused|unavailable|throttl|exceeded|too many|\b5\d\d\b)`)

// patternsByStream counts the lines of the most frequent error patterns by
// stream in one query: each pattern is matched by its literal fragments
// (the text between its variable tokens).
func (s *Session) patternsByStream(ctx context.Context, q investigate.LogQuery, patterns []investigate.LogPattern) (int64, error) {
	var (
		exprs []string
		idx   []int
	)
	for i, p := range patterns {
		if len(exprs) == 5 {
			break
		}
		if !errorLike.MatchString(p.Pattern) {
			continue
		}
		frags := patternFragments(p.Pattern)
		if len(frags) == 0 {
			continue
		}
		terms := make([]string, len(frags))
		for k, f := range frags {
			terms[k] = "strcontains(@message, " + insightsString(f) + ")"
		}
		exprs = append(exprs, fmt.Sprintf("sum(%s) as p%d", strings.Join(terms, " * "), len(exprs)))
		idx = append(idx, i)
	}
	if len(exprs) == 0 {
		return 0, nil
	}
	query := "stats " + strings.Join(exprs, ", ") + " by @logStream | limit 10000"
	rows, n, err := s.logQuery(ctx, q, query)
	if err == nil {
		err = lacking(q.Group, query, rows, "@logStream")
	}
	if err != nil {
		return n, err
	}
	for _, row := range rows {
		stream := row["@logStream"]
		for k, i := range idx {
			v, _ := strconv.ParseFloat(row["p"+strconv.Itoa(k)], 64)
			if v <= 0 {
				continue
			}
			if patterns[i].ByStream == nil {
				patterns[i].ByStream = map[string]int{}
			}
			patterns[i].ByStream[stream] += int(v)
		}
	}
	return n, nil
}

// patternFragments are a pattern's literal parts, longest first, at most
// four of at least three characters.
func patternFragments(p string) []string {
	var frags []string
	for _, f := range strings.Split(p, "<*>") {
		f = strings.TrimSpace(f)
		if len(f) >= 3 {
			frags = append(frags, f)
		}
	}
	sort.SliceStable(frags, func(i, j int) bool { return len(frags[i]) > len(frags[j]) })
	if len(frags) > 4 {
		frags = frags[:4]
	}
	return frags
}

// insightsString quotes a string for a Logs Insights query.
func insightsString(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ")
	return `"` + r.Replace(v) + `"`
}

// logQuery runs one Logs Insights query to its end and returns its rows as
// field → value maps and the bytes it scanned.
func (s *Session) logQuery(ctx context.Context, q investigate.LogQuery, query string) ([]map[string]string, int64, error) {
	limit := s.c.opts.LogBytesCap
	if limit > 0 && s.scanned.Load() >= limit {
		return nil, 0, fmt.Errorf("logs insights query %s: %w (%d of %d bytes scanned)", q.Group, ErrLogBytesCap, s.scanned.Load(), limit)
	}
	select {
	case s.c.logSem <- struct{}{}:
		defer func() { <-s.c.logSem }()
	case <-ctx.Done():
		return nil, 0, wrap("logs insights query "+q.Group, ctx.Err())
	}
	start, err := s.c.api.logs.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
		LogGroupNames: []string{q.Group},
		StartTime:     aws.Int64(q.Start.Unix()),
		EndTime:       aws.Int64(q.End.Unix()),
		QueryString:   aws.String(query),
		Limit:         aws.Int32(10000),
	})
	if err != nil {
		return nil, 0, wrap("logs insights start query "+q.Group, err)
	}
	id := start.QueryId
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = s.c.api.logs.StopQuery(sctx, &cloudwatchlogs.StopQueryInput{QueryId: id})
	}
	wait := s.c.opts.PollInterval
	var bytes int64
	account := func() {
		s.scanned.Add(bytes)
		s.c.scanned.Add(bytes)
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			account()
			return nil, bytes, wrap("logs insights query "+q.Group, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*3/2, 4*time.Second)
		out, err := s.c.api.logs.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: id})
		if err != nil {
			if ctx.Err() != nil {
				stop()
			}
			account()
			return nil, bytes, wrap("logs insights get query results "+q.Group, err)
		}
		if out.Statistics != nil {
			bytes = int64(out.Statistics.BytesScanned)
		}
		switch out.Status {
		case logtypes.QueryStatusComplete:
			rows := resultRows(out.Results)
			for page := 0; out.NextToken != nil && page < 9; page++ {
				out, err = s.c.api.logs.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: id, NextToken: out.NextToken})
				if err != nil {
					account()
					return nil, bytes, wrap("logs insights get query results "+q.Group, err)
				}
				rows = append(rows, resultRows(out.Results)...)
			}
			account()
			return rows, bytes, nil
		case logtypes.QueryStatusFailed, logtypes.QueryStatusCancelled, logtypes.QueryStatusTimeout, logtypes.QueryStatusUnknown:
			account()
			return nil, bytes, fmt.Errorf("logs insights query %s: query %s", q.Group, strings.ToLower(string(out.Status)))
		}
		if limit > 0 && s.scanned.Load()+bytes > limit {
			stop()
			account()
			return nil, bytes, fmt.Errorf("logs insights query %s: %w (%d of %d bytes scanned)", q.Group, ErrLogBytesCap, s.scanned.Load(), limit)
		}
	}
}

// lacking fails when a query's answer has rows but none carries the fields
// the query computes: Logs Insights always returns them, so the endpoint
// did not run the query (an emulator that knows only `fields`, `sort` and
// `limit` returns the raw events instead). Read as they are, such rows
// would count as no lines at all, and the report would not say that the
// logs went unread.
func lacking(group, query string, rows []map[string]string, fields ...string) error {
	for _, row := range rows {
		has := true
		for _, f := range fields {
			if _, ok := row[f]; !ok {
				has = false
				break
			}
		}
		if has {
			return nil
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return fmt.Errorf("logs insights query %s: %d rows, none with %s: the endpoint did not run %q as Logs Insights does",
		group, len(rows), strings.Join(fields, " and "), query)
}

func resultRows(results [][]logtypes.ResultField) []map[string]string {
	rows := make([]map[string]string, 0, len(results))
	for _, r := range results {
		row := make(map[string]string, len(r))
		for _, f := range r {
			row[aws.ToString(f.Field)] = aws.ToString(f.Value)
		}
		rows = append(rows, row)
	}
	return rows
}
