package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeELF is a minimal ELF executable header for machine: enough for
// debug/elf, so the tests need no compiler. dynamic adds a PT_INTERP
// program header, as a cgo build has.
func fakeELF(t *testing.T, machine elf.Machine, dynamic bool) []byte {
	t.Helper()
	progs := []elf.Prog64{{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000}}
	if dynamic {
		progs = append(progs, elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Align: 1})
	}
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(len(progs)), Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		if err := binary.Write(&buf, binary.LittleEndian, p); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("fake program text")
	return buf.Bytes()
}

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func testSpec(t *testing.T, arches ...string) spec {
	t.Helper()
	s := spec{
		Version: "v0.1.0-3-gabcdef0", Revision: "abcdef0123456789abcdef0123456789abcdef01",
		Source: "https://github.com/unstuck/unstuck", Tag: "unstuck:v0.1.0-3-gabcdef0",
		Created: time.Unix(1733400000, 0).UTC(), CACerts: []byte(testCA),
	}
	for _, a := range arches {
		p, err := parsePlatform("linux/" + a)
		if err != nil {
			t.Fatal(err)
		}
		m := elfMachine[a]
		s.Platforms = append(s.Platforms, binaries{Platform: p, Bot: fakeELF(t, m, false), Healthcheck: fakeELF(t, m, false)})
	}
	return s
}

// writeBuilt builds s into a layout directory and returns it.
func writeBuilt(t *testing.T, s spec) string {
	t.Helper()
	img, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := img.writeLayout(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildAndCheck(t *testing.T) {
	for _, arches := range [][]string{{"amd64"}, {"arm64"}, {"amd64", "arm64"}} {
		t.Run(strings.Join(arches, "+"), func(t *testing.T) {
			s := testSpec(t, arches...)
			img, err := build(s)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "image")
			if err := img.writeLayout(dir); err != nil {
				t.Fatal(err)
			}
			res, err := checkLayout(os.DirFS(dir))
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if len(res) != len(arches) {
				t.Fatalf("checked %d platforms, want %d", len(res), len(arches))
			}
			for i, c := range res {
				cfg := c.Config.Config
				if c.Config.Architecture != arches[i] || c.Config.OS != "linux" {
					t.Errorf("platform %s, want linux/%s", c.Platform, arches[i])
				}
				if !slices.Equal(cfg.Entrypoint, []string{"/bot"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
					t.Errorf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
				}
				if cfg.User != "65532:65532" {
					t.Errorf("user %q", cfg.User)
				}
				if cfg.Labels[LabelVersion] != s.Version || cfg.Labels[LabelRevision] != s.Revision ||
					cfg.Labels[LabelSource] != s.Source || cfg.Labels[LabelLicenses] != "Apache-2.0" {
					t.Errorf("labels %v", cfg.Labels)
				}
				var names []string
				for n := range c.Files {
					names = append(names, n)
				}
				slices.Sort(names)
				want := []string{"/bot", "/data", "/etc", "/etc/group", "/etc/nsswitch.conf", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs",
					"/etc/ssl/certs/ca-certificates.crt", "/healthcheck", "/home", "/home/nonroot", "/tmp"}
				if !slices.Equal(names, want) {
					t.Errorf("files %q\nwant %q", names, want)
				}
				if !strings.Contains(string(c.Files["/etc/passwd"].Data), "nonroot:x:65532:65532:") {
					t.Errorf("/etc/passwd: %q", c.Files["/etc/passwd"].Data)
				}
			}

			// The tarball holds the same layout, and manifest.json for
			// docker load when there is one platform.
			var tb bytes.Buffer
			if err := img.writeTar(&tb, s.Created); err != nil {
				t.Fatal(err)
			}
			fsys, err := tarFS(bytes.NewReader(tb.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkLayout(fsys); err != nil {
				t.Errorf("tarball: %v", err)
			}
			var dm []dockerManifest
			data, err := os.ReadFile(filepath.Join(dir, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var idx ociIndex
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			if got := idx.Manifests[0].Annotations[annRefName]; got != "v0.1.0-3-gabcdef0" {
				t.Errorf("ref name %q", got)
			}
			if m, err := fs.ReadFile(fsys, "manifest.json"); len(arches) == 1 {
				if err != nil || json.Unmarshal(m, &dm) != nil || len(dm) != 1 || dm[0].RepoTags[0] != s.Tag {
					t.Errorf("manifest.json: %s %v", m, err)
				}
			} else if err == nil {
				t.Error("a multi-platform tarball has manifest.json, which docker load would read as one platform")
			}
		})
	}
}

func TestReproducible(t *testing.T) {
	a, err := build(testSpec(t, "amd64", "arm64"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(testSpec(t, "amd64", "arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Index.Manifests[0].Digest != b.Index.Manifests[0].Digest {
		t.Errorf("two builds of the same input: %s and %s", a.Index.Manifests[0].Digest, b.Index.Manifests[0].Digest)
	}
	s := testSpec(t, "amd64", "arm64")
	s.Revision = "0000000000000000000000000000000000000000"
	c, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	if a.Index.Manifests[0].Digest == c.Index.Manifests[0].Digest {
		t.Error("another revision, the same digest")
	}
}

// TestCheckCatches breaks an image in each way the checker must see, and
// checks that it says so.
func TestCheckCatches(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(*spec)
		want   string
	}{
		{"root user", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.User = "0:0" } }, `user "0:0" is root`},
		{"root by name", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.User = "root" } }, `user "root" is root`},
		{"no user", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.User = "" } }, "would run as root"},
		{"user without passwd entry", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.User = "1000" } }, "no entry in /etc/passwd"},
		{"entrypoint", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.Entrypoint = []string{"/bin/sh", "-c"} } }, "entrypoint"},
		{"cmd", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.Cmd = nil } }, "cmd"},
		{"label", func(s *spec) { s.tweak = func(c *imageConfig) { delete(c.Config.Labels, LabelRevision) } }, "label org.opencontainers.image.revision is missing"},
		{"license", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.Labels[LabelLicenses] = "MIT" } }, `want "Apache-2.0"`},
		{"diff id", func(s *spec) { s.tweak = func(c *imageConfig) { c.RootFS.DiffIDs[0] = digest([]byte("x")) } }, "diff id"},
		{"shell", func(s *spec) { s.Extra = append(s.Extra, entry{Name: "bin/sh", Mode: 0o755, Data: []byte("x")}) }, "/bin/sh is a shell"},
		{"busybox", func(s *spec) {
			s.Extra = append(s.Extra, entry{Name: "usr/local/bin/busybox", Mode: 0o755, Data: []byte("x")})
		}, "busybox is a shell"},
		{"setuid", func(s *spec) { s.Extra = append(s.Extra, entry{Name: "usr/bin/x", Mode: 0o4755, Data: []byte("x")}) }, "set-uid"},
		{"workdir owned by root", func(s *spec) { s.tweak = func(c *imageConfig) { c.Config.WorkingDir = "/tmp" } }, "owned by uid 0"},
		{"wrong arch", func(s *spec) { s.Platforms[0].Bot = fakeELF(t, elf.EM_AARCH64, false) }, "/bot: built for EM_AARCH64"},
		{"dynamic", func(s *spec) { s.Platforms[0].Healthcheck = fakeELF(t, elf.EM_X86_64, true) }, "/healthcheck: dynamically linked"},
		{"sound", func(s *spec) {}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec(t, "amd64")
			tc.break_(&s)
			_, err := checkLayout(os.DirFS(writeBuilt(t, s)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a sound image fails: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}

	// A blob changed on disk after the build.
	dir := writeBuilt(t, testSpec(t, "amd64"))
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	var biggest string
	var size int64
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > size {
			biggest, size = b, st.Size()
		}
	}
	data, _ := os.ReadFile(biggest)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(biggest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := checkLayout(os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "has digest") {
		t.Errorf("a damaged layer: %v", err)
	}
	if _, err := checkLayout(os.DirFS(t.TempDir())); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("an empty directory: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	amd64, _ := parsePlatform("linux/amd64")
	if _, err := readBinaries(amd64, dir); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("missing binaries: %v", err)
	}
	write("bot", []byte("#!/bin/sh\necho hi\n"))
	write("healthcheck", fakeELF(t, elf.EM_X86_64, false))
	if _, err := readBinaries(amd64, dir); err == nil || !strings.Contains(err.Error(), "not an ELF executable") {
		t.Errorf("a script: %v", err)
	}
	write("bot", fakeELF(t, elf.EM_X86_64, true))
	if _, err := readBinaries(amd64, dir); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("a dynamic binary: %v", err)
	}
	write("bot", fakeELF(t, elf.EM_X86_64, false))
	if _, err := readBinaries(amd64, dir); err != nil {
		t.Errorf("sound binaries: %v", err)
	}
	arm64, _ := parsePlatform("linux/arm64")
	if _, err := readBinaries(arm64, dir); err == nil || !strings.Contains(err.Error(), "not linux/arm64/v8") {
		t.Errorf("amd64 binaries for arm64: %v", err)
	}
	for _, p := range []string{"linux", "darwin/arm64", "linux/386", "linux/amd64/v2/x"} {
		if _, err := parsePlatform(p); err == nil {
			t.Errorf("platform %q accepted", p)
		}
	}

	s := testSpec(t, "amd64")
	s.Revision, s.CACerts = "", []byte("not a certificate")
	s.Platforms = append(s.Platforms, s.Platforms[0])
	if _, err := build(s); err == nil || !strings.Contains(err.Error(), "-revision is empty") ||
		!strings.Contains(err.Error(), "no PEM certificate") || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a bad spec: %v", err)
	}
	s = testSpec(t, "amd64")
	s.Extra = []entry{{Name: "bot", Mode: 0o644, Data: []byte("x")}}
	if _, err := build(s); err == nil || !strings.Contains(err.Error(), "/bot is in the image twice") {
		t.Errorf("-add over /bot: %v", err)
	}

	// The layout is not written over a directory that holds other things.
	other := t.TempDir()
	write2 := filepath.Join(other, "notes.txt")
	if err := os.WriteFile(write2, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := build(testSpec(t, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	if err := img.writeLayout(other); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("writing over a directory of other files: %v", err)
	}
	if _, err := os.Stat(write2); err != nil {
		t.Errorf("the other file is gone: %v", err)
	}

	// The command line.
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte(testCA), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "image")
	base := []string{"build", "-bin", "linux/amd64=" + dir, "-out", out, "-tag", "unstuck:t", "-version", "t", "-revision", "r", "-source", "s", "-created", "1733400000", "-ca", ca}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"-created", "yesterday"}, "want Unix seconds"},
		{[]string{"-tag", "unstuck"}, "want NAME:TAG"},
		{[]string{"-add", "channels.yaml"}, "want SRC:DEST"},
		{[]string{"-add", ca + ":etc/x"}, "absolute path"},
		{[]string{"-bin", "linux/amd64"}, "want PLATFORM=DIR"},
		{[]string{"-ca", filepath.Join(dir, "absent")}, "-ca:"},
	} {
		var stderr bytes.Buffer
		if code := run(append(slices.Clone(base), tc.extra...), &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, %q; want 1 and %q", tc.extra, code, stderr.String(), tc.want)
		}
	}
	if code := run([]string{"nope"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

// TestCommandLine builds through the command line, as scripts/image.sh
// does, and checks both outputs through the check command, as CI does.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bot", "healthcheck"} {
		if err := os.WriteFile(filepath.Join(dir, name), fakeELF(t, elf.EM_X86_64, false), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ca := filepath.Join(dir, "ca.crt")
	channels := filepath.Join(dir, "channels.yaml")
	for name, data := range map[string]string{ca: testCA, channels: "channels: {}\n"} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "dist")
	var stdout, stderr bytes.Buffer
	code := run([]string{"build", "-bin", "linux/amd64=" + dir, "-out", out + "/image", "-tar", out + "/unstuck-image.tar",
		"-tag", "unstuck:v1", "-version", "v1", "-revision", "r1", "-source", "https://example.com/u", "-created", "1733400000",
		"-ca", ca, "-add", channels + ":/etc/unstuck/channels.yaml"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("build: exit %d: %s", code, stderr.String())
	}
	if !regexp.MustCompile(`linux/amd64 +[0-9.]+ MiB compressed`).MatchString(stdout.String()) {
		t.Errorf("build printed no size: %q", stdout.String())
	}
	for _, p := range []string{out + "/image", out + "/unstuck-image.tar"} {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"check", p}, &stdout, &stderr); code != 0 {
			t.Errorf("check %s: exit %d: %s", p, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), `ok: linux/amd64, entrypoint ["/bot"] cmd ["serve"], user 65532:65532, version v1, revision r1`) {
			t.Errorf("check %s: %q", p, stdout.String())
		}
	}
	res, err := checkLayout(os.DirFS(out + "/image"))
	if err != nil {
		t.Fatal(err)
	}
	if f := res[0].Files["/etc/unstuck/channels.yaml"]; f == nil || string(f.Data) != "channels: {}\n" || f.Header.Uid != 0 || f.Header.Mode != 0o644 {
		t.Errorf("the added channels file: %+v", f)
	}
	// Built again over the first: replaced, the same bytes.
	first, _ := os.ReadFile(out + "/unstuck-image.tar")
	if code := run([]string{"build", "-bin", "linux/amd64=" + dir, "-out", out + "/image", "-tar", out + "/unstuck-image.tar",
		"-tag", "unstuck:v1", "-version", "v1", "-revision", "r1", "-source", "https://example.com/u", "-created", "1733400000",
		"-ca", ca, "-add", channels + ":/etc/unstuck/channels.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("second build: %s", stderr.String())
	}
	if second, _ := os.ReadFile(out + "/unstuck-image.tar"); !bytes.Equal(first, second) {
		t.Error("the same build twice: different tarballs")
	}
}

// TestDockerfileMatches holds the Dockerfile's final stage to what
// tools/image builds, so that an image built with Docker is the same
// image.
func TestDockerfileMatches(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(data), " ")
	var stages [][]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage Dockerfile, got %d stages", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/bot", "./tools/healthcheck", "-o /out/bot", "-o /out/healthcheck"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage lacks %q", want)
		}
	}
	finalText := strings.Join(final, "\n")
	wantLines := []string{
		"FROM scratch",
		"USER " + User,
		"WORKDIR " + WorkDir,
		`VOLUME ["` + WorkDir + `"]`,
		`ENTRYPOINT ["` + Entrypoint + `"]`,
		`CMD ["` + strings.Join(DefaultCmd, `", "`) + `"]`,
		"ENV HOME=" + Home,
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt " + CACertsPath,
		"COPY --from=build /out/bot " + Entrypoint,
		"COPY --from=build /out/healthcheck " + HealthcheckPath,
	}
	for _, w := range wantLines {
		if !slices.Contains(final, w) {
			t.Errorf("the final stage lacks the line %q", w)
		}
	}
	for _, l := range RequiredLabels {
		if !strings.Contains(finalText, l+"=") {
			t.Errorf("the final stage does not set the label %s", l)
		}
	}
	if !strings.Contains(finalText, LabelLicenses+`="`+License+`"`) {
		t.Errorf("the final stage's license label is not %s", License)
	}
	for _, l := range final {
		if strings.HasPrefix(l, "RUN ") {
			t.Errorf("the final stage runs %q: FROM scratch has no shell", l)
		}
	}
	wantPasswd := `nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin`
	if !strings.Contains(build, wantPasswd) {
		t.Errorf("the build stage's /etc/passwd lacks %q", wantPasswd)
	}
}
