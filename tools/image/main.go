// Command image builds unstuck's container image without a container
// engine or a registry, and checks one.
//
//	go run ./tools/image build -bin linux/amd64=DIR [-bin linux/arm64=DIR] -out dist/image -tar dist/unstuck-image.tar \
//	    -tag unstuck:VERSION -version VERSION -revision COMMIT -source URL -created UNIX-SECONDS
//	go run ./tools/image check dist/image|dist/unstuck-image.tar
//
// DIR holds the platform's static binaries, bot and healthcheck (built with
// CGO_ENABLED=0; scripts/image.sh builds them). The image is FROM scratch:
// the two binaries, the build machine's CA certificates, /etc/passwd and
// /etc/group with the non-root user 65532, its home, the work directory
// /data (a volume) and /tmp; no shell. Entrypoint /bot, default command
// serve. The output is an OCI image layout (a directory) and the same
// layout as one tarball, which `docker load`, `skopeo copy oci-archive:`,
// `crane push` and `podman load` take. Given the same binaries and
// -created, the output is the same to the byte.
//
// It uses the standard library only: an OCI layout is a few JSON files and
// a tar, and the checker reads it back with its own code.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  image build -bin PLATFORM=DIR [-bin ...] -out DIR [-tar FILE] -tag NAME:TAG -version V -revision R -source URL -created UNIX [-ca FILE] [-add SRC:DEST ...]
  image check DIR|FILE.tar
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = cmdBuild(args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(args[1:], stdout)
	default:
		fmt.Fprintf(stderr, "image: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "image %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func cmdBuild(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bins, adds multi
	fs.Var(&bins, "bin", "PLATFORM=DIR: DIR holds that platform's static bot and healthcheck (repeat for several platforms)")
	fs.Var(&adds, "add", "SRC:DEST: add the file SRC as DEST (absolute), owned by root, mode 0644, e.g. a channels file")
	out := fs.String("out", "", "write the OCI image layout to this directory")
	tarPath := fs.String("tar", "", "also write the layout as one tarball (docker load, skopeo, crane)")
	tag := fs.String("tag", "", "the image's name and tag, e.g. unstuck:v0.1.0")
	s := spec{}
	fs.StringVar(&s.Version, "version", "", "org.opencontainers.image.version")
	fs.StringVar(&s.Revision, "revision", "", "org.opencontainers.image.revision (the commit)")
	fs.StringVar(&s.Source, "source", "", "org.opencontainers.image.source (the repository's URL)")
	created := fs.String("created", "", "the image's creation time in Unix seconds (the commit's time, for reproducible output)")
	ca := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to put in the image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	s.Tag = *tag
	if *tag != "" && !strings.Contains(*tag, ":") {
		return fmt.Errorf("-tag %q: want NAME:TAG", *tag)
	}
	if *created != "" {
		secs, err := strconv.ParseInt(*created, 10, 64)
		if err != nil || secs <= 0 {
			return fmt.Errorf("-created %q: want Unix seconds (git log -1 --format=%%ct)", *created)
		}
		s.Created = time.Unix(secs, 0).UTC()
	}
	var err error
	if s.CACerts, err = os.ReadFile(*ca); err != nil {
		return fmt.Errorf("-ca: %w (install ca-certificates, or give the bundle's path)", err)
	}
	for _, b := range bins {
		plat, dir, ok := strings.Cut(b, "=")
		if !ok || dir == "" {
			return fmt.Errorf("-bin %q: want PLATFORM=DIR, e.g. linux/amd64=dist/build/linux_amd64", b)
		}
		p, err := parsePlatform(plat)
		if err != nil {
			return err
		}
		bs, err := readBinaries(p, dir)
		if err != nil {
			return err
		}
		s.Platforms = append(s.Platforms, bs)
	}
	for _, a := range adds {
		src, dest, ok := strings.Cut(a, ":")
		if !ok || !path.IsAbs(dest) || path.Clean(dest) == "/" {
			return fmt.Errorf("-add %q: want SRC:DEST with DEST an absolute path in the image", a)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("-add: %w", err)
		}
		s.Extra = append(s.Extra, entry{Name: path.Clean(dest), Mode: 0o644, Data: data})
	}
	img, err := build(s)
	if err != nil {
		return err
	}
	if err := img.writeLayout(*out); err != nil {
		return err
	}
	if *tarPath != "" {
		var buf bytes.Buffer
		if err := img.writeTar(&buf, s.Created); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*tarPath), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*tarPath, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	// Check what was written, as CI and a user would.
	res, err := checkLayout(os.DirFS(*out))
	if err != nil {
		return fmt.Errorf("the image just built fails its check:\n%w", err)
	}
	fmt.Fprintf(stdout, "image %s (%s) in %s", s.Tag, img.Index.Manifests[0].Digest, *out)
	if *tarPath != "" {
		fmt.Fprintf(stdout, " and %s", *tarPath)
	}
	fmt.Fprintln(stdout)
	printSizes(stdout, res)
	return nil
}

func printSizes(w io.Writer, res []checked) {
	for _, c := range res {
		fmt.Fprintf(w, "  %-14s %s compressed (pushed, pulled), %s unpacked\n", c.Platform, mib(c.Compressed), mib(c.Unpacked))
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func cmdCheck(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("want one OCI layout directory or image tarball")
	}
	var fsys fs.FS
	st, err := os.Stat(args[0])
	if err != nil {
		return err
	}
	if st.IsDir() {
		fsys = os.DirFS(args[0])
	} else {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		if fsys, err = tarFS(f); err != nil {
			return err
		}
	}
	res, err := checkLayout(fsys)
	if err != nil {
		return fmt.Errorf("%s:\n%w", args[0], err)
	}
	for _, c := range res {
		l := c.Config.Config.Labels
		fmt.Fprintf(stdout, "%s: ok: %s, entrypoint %q cmd %q, user %s, version %s, revision %s\n",
			args[0], c.Platform, c.Config.Config.Entrypoint, c.Config.Config.Cmd, c.Config.Config.User, l[LabelVersion], l[LabelRevision])
	}
	printSizes(stdout, res)
	return nil
}
