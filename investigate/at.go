package investigate

import (
	"fmt"
	"time"
)

// AtError is an instant an investigation cannot be asked to end at (the
// --at of /investigate and of bot investigate): one that cannot be read, or
// one in the future. Its message is for a person.
type AtError struct {
	// Value is what was given.
	Value string
	// Future is set for an instant that can be read but has not come yet.
	Future bool
}

func (e *AtError) Error() string {
	if e.Future {
		return fmt.Sprintf("--at %s is in the future: give an instant that has passed.", e.Value)
	}
	return fmt.Sprintf("--at %q: give a time like 10:32 (UTC, the last 10:32 that has passed), 2024-12-03 10:32 (UTC) or 2024-12-03T10:32:00Z.", e.Value)
}

// atSkew is how far in the future an instant may be and still be taken
// as now: the clocks of whoever typed it and of the bot differ a little.
const atSkew = time.Minute

// atLayouts are the dates with a time that ParseAt reads; those without a
// zone are UTC.
var atLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
}

// ParseAt reads the instant an investigation should end at, as of now: a
// time of day, HH:MM, is UTC and the last such time at or before now
// (today's, or yesterday's when today's is still to come); a date and time,
// 2024-12-03 10:32 or 2024-12-03T10:32 with or without seconds, is UTC
// unless it carries a zone (RFC 3339: 2024-12-03T10:32:00Z,
// 2024-12-03T11:32+01:00). An instant more than a minute after now is
// refused: an investigation reads what has happened. The error is an
// *AtError.
func ParseAt(v string, now time.Time) (time.Time, error) {
	now = now.UTC()
	if t, err := time.Parse("15:04", v); err == nil {
		at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		if at.After(now) {
			at = at.AddDate(0, 0, -1)
		}
		return at, nil
	}
	for _, layout := range atLayouts {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		if t.After(now.Add(atSkew)) {
			return time.Time{}, &AtError{Value: v, Future: true}
		}
		return t.UTC(), nil
	}
	return time.Time{}, &AtError{Value: v}
}

// WindowLayout is the layout that writes the times of a window from start
// to end: the time of day alone ("15:04") when both fall on one UTC day,
// and the date with it ("2006-01-02 15:04") when the window spans days, so
// that a report over a day or more says which day each time is on.
func WindowLayout(start, end time.Time) string {
	sy, sm, sd := start.UTC().Date()
	ey, em, ed := end.UTC().Date()
	if start.IsZero() || end.IsZero() || (sy == ey && sm == em && sd == ed) {
		return "15:04"
	}
	return "2006-01-02 15:04"
}
