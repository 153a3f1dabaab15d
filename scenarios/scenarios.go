// Package scenarios holds the embedded scenario files: the offline demo and the
// evaluation set that `bot eval` runs by default.
package scenarios

import "embed"

// FS holds every embedded scenario file at its root.
//
//go:embed *.yaml
var FS embed.FS
