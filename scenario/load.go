package scenario

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the scenario file at path (a slash-separated fs.FS path) from
// fsys, then parses, validates and resolves it as Parse does; csv files it
// names are read from fsys too. On error it returns nil and an ErrorList.
func Load(fsys fs.FS, path string) (*File, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, ErrorList{readError(path, err)}
	}
	return Parse(path, data, fsys)
}

// LoadAll loads every *.yaml and *.yml file in dir (not its subfolders), in
// name order, and checks that no two have the same name. When any file
// fails, it returns nil and an ErrorList of every problem in every file.
func LoadAll(fsys fs.FS, dir string) ([]*File, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, ErrorList{readError(dir, err)}
	}
	var (
		files []*File
		errs  ErrorList
		seen  = map[string]*File{}
	)
	for _, e := range ents {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		f, err := Load(fsys, path.Join(dir, e.Name()))
		if err != nil {
			var list ErrorList
			if errors.As(err, &list) {
				errs = append(errs, list...)
			} else {
				errs = append(errs, &Error{File: path.Join(dir, e.Name()), Msg: err.Error(), Err: err})
			}
			continue
		}
		if prev, dup := seen[f.Scenario.Name]; dup {
			errs = append(errs, &Error{File: f.Path, Line: f.nameLine, Field: "name",
				Msg: fmt.Sprintf("duplicate name %q (also the name of %s:%d; names must be unique)", f.Scenario.Name, prev.Path, prev.nameLine)})
			continue
		}
		seen[f.Scenario.Name] = f
		files = append(files, f)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return files, nil
}

func readError(name string, err error) *Error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &Error{File: name, Msg: "cannot read: " + msg, Err: err}
}

// csv reads a metric item's csv file (see Parse for its form). n is the csv
// field's node; problems with the file's rows name the csv file and its line.
func (p *parser) csv(n *yaml.Node, field, rel string) []Point {
	if p.fsys == nil {
		p.errf(n, field, "csv %q cannot be read: no file system to read it from", rel)
		return nil
	}
	if path.IsAbs(rel) || strings.Contains(rel, `\`) {
		p.errf(n, field, "bad csv path %q (want a slash-separated path relative to the scenario file's folder)", rel)
		return nil
	}
	full := csvPath(p.file, rel)
	if !fs.ValidPath(full) {
		p.errf(n, field, "bad csv path %q (it leads out of the scenarios' folder)", rel)
		return nil
	}
	data, err := fs.ReadFile(p.fsys, full)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Field: field, Msg: fmt.Sprintf("cannot read csv %q: %s", full, msg), Err: err})
		return nil
	}
	rowErr := func(line int, format string, args ...any) {
		p.errs = append(p.errs, &Error{File: full, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var (
		pts     []Point
		timed   = -1 // 1 when rows have timestamps, 0 when not, -1 before the first row
		header  = true
		nErrs   = 0
		lastRaw string
	)
	for nErrs < 10 {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line, err = pe.Line, pe.Err
			}
			rowErr(line, "bad csv: %v", err)
			return nil
		}
		line, _ := r.FieldPos(0)
		var ts, val string
		switch len(rec) {
		case 1:
			val = rec[0]
		case 2:
			ts, val = rec[0], rec[1]
		default:
			rowErr(line, "want timestamp,value, found %d fields", len(rec))
			nErrs++
			continue
		}
		ts, val = strings.TrimSpace(ts), strings.TrimSpace(val)
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			if header {
				header = false
				continue
			}
			rowErr(line, "bad value %q (want a number)", val)
			nErrs++
			continue
		}
		header = false
		rowTimed := 0
		if ts != "" {
			rowTimed = 1
		}
		if timed == -1 {
			timed = rowTimed
		} else if rowTimed != timed {
			rowErr(line, "some rows have a timestamp and some do not (want all or none)")
			nErrs++
			continue
		}
		pt := Point{Value: v}
		if rowTimed == 1 {
			w, err := parseWhen(ts)
			if err != nil {
				rowErr(line, "%s", err)
				nErrs++
				continue
			}
			if !p.haveOnset {
				continue
			}
			pt.Time = w.at(p.onset)
			if len(pts) > 0 && !pt.Time.After(pts[len(pts)-1].Time) {
				rowErr(line, "timestamp %q is not after the row before (%q): want rows in time order", ts, lastRaw)
				nErrs++
				continue
			}
			lastRaw = ts
		} else {
			if !p.haveStart {
				continue
			}
			pt.Time = p.start.Add(time.Duration(len(pts)) * p.step)
		}
		pts = append(pts, pt)
	}
	if nErrs == 0 && len(pts) == 0 && (p.haveStart || timed == -1) {
		p.errf(n, field, "csv %q has no rows (want timestamp,value rows)", full)
	}
	if nErrs > 0 {
		return nil
	}
	return pts
}
