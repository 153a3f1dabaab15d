package scenario

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem with a scenario file (or a csv file it names).
//
// Error() reads FILE:LINE: FIELD: MSG, for example
//
//	scenarios/x.yaml:23: resources[3].type: unknown type "ec3" (want one of alb, apigw, ...)
//
// The line is left out when it is unknown (0) and the field when the problem
// is not about one field (a YAML syntax error, an unreadable file).
type Error struct {
	// File is the path the file was read from.
	File string
	// Line is 1-based, 0 when unknown.
	Line int
	// Field is the path of the field in the document, like resources[2].type,
	// alarm.fires or metrics[0].csv. List indexes count from 0.
	Field string
	// Msg says what was found and what was expected.
	Msg string
	// Err is the underlying error (e.g. from reading the file), or nil.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem found, in file and line order. Load, Parse and
// LoadAll return their errors as an ErrorList; errors.As with a **Error
// target finds its first element.
type ErrorList []*Error

// Error lists the problems, one a line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap gives the elements to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// err returns l as an error: nil when empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}
