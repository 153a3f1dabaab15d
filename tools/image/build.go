package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// platform is an OCI platform this tool builds for: linux only.
type platform struct{ OS, Arch, Variant string }

func (p platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// elfMachine is the ELF machine a platform's binaries are built for.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func parsePlatform(s string) (platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return platform{}, fmt.Errorf("platform %q: want OS/ARCH, e.g. linux/amd64", s)
	}
	p := platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return platform{}, fmt.Errorf("platform %q: only linux images are built", s)
	}
	if _, ok := elfMachine[p.Arch]; !ok {
		return platform{}, fmt.Errorf("platform %q: architecture %q is not amd64 or arm64", s, p.Arch)
	}
	if p.Arch == "arm64" && p.Variant == "" {
		p.Variant = "v8"
	}
	return p, nil
}

// binaries are one platform's programs: the bot and the health check.
type binaries struct {
	Platform    platform
	Bot         []byte
	Healthcheck []byte
}

// readBinaries reads dir/bot and dir/healthcheck and checks that they are
// static ELF executables for p: a binary for another machine, or one that
// needs a dynamic loader (built with cgo), cannot run in an image that has
// nothing but them.
func readBinaries(p platform, dir string) (binaries, error) {
	b := binaries{Platform: p}
	for _, x := range []struct {
		name string
		dst  *[]byte
	}{{"bot", &b.Bot}, {"healthcheck", &b.Healthcheck}} {
		file := filepath.Join(dir, x.name)
		data, err := os.ReadFile(file)
		if err != nil {
			return b, fmt.Errorf("%s: %w (build it with CGO_ENABLED=0 GOOS=%s GOARCH=%s go build, or run scripts/image.sh)", p, err, p.OS, p.Arch)
		}
		if err := checkStaticELF(data, p); err != nil {
			return b, fmt.Errorf("%s: %w", file, err)
		}
		*x.dst = data
	}
	return b, nil
}

// checkStaticELF says why data is not a static Linux executable for p.
func checkStaticELF(data []byte, p platform) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable (%v): the image needs a Linux binary", err)
	}
	defer f.Close()
	if want := elfMachine[p.Arch]; f.Machine != want {
		return fmt.Errorf("built for %v, not %s (%v)", f.Machine, p, want)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v is not an executable", f.Type)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (it asks for a program interpreter): build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// entry is one file or directory of the image's filesystem.
type entry struct {
	Name     string // without a leading slash
	Dir      bool
	Mode     int64
	UID, GID int
	Data     []byte
}

// spec is what an image is built from.
type spec struct {
	Version, Revision, Source string
	Created                   time.Time
	Tag                       string
	CACerts                   []byte
	Extra                     []entry // files added with -add, owned by root, 0644
	Platforms                 []binaries

	// tweak, for tests, changes the config before it is written: the
	// checker must catch what it breaks.
	tweak func(*imageConfig)
}

func (s spec) validate() error {
	var problems []string
	for _, f := range []struct{ name, v string }{{"version", s.Version}, {"revision", s.Revision}, {"source", s.Source}, {"tag", s.Tag}} {
		if strings.TrimSpace(f.v) == "" {
			problems = append(problems, "-"+f.name+" is empty")
		}
	}
	if s.Created.IsZero() {
		problems = append(problems, "-created is not set")
	}
	if !bytes.Contains(s.CACerts, []byte("-----BEGIN CERTIFICATE-----")) {
		problems = append(problems, "the CA bundle holds no PEM certificate")
	}
	if len(s.Platforms) == 0 {
		problems = append(problems, "no -bin PLATFORM=DIR given")
	}
	seen := map[string]bool{}
	for _, b := range s.Platforms {
		if seen[b.Platform.String()] {
			problems = append(problems, "platform "+b.Platform.String()+" given twice")
		}
		seen[b.Platform.String()] = true
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// rootfs is the image's whole filesystem for one platform.
func (s spec) rootfs(b binaries) []entry {
	files := []entry{
		{Name: "bot", Mode: 0o755, Data: b.Bot},
		{Name: strings.TrimPrefix(HealthcheckPath, "/"), Mode: 0o755, Data: b.Healthcheck},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", UserName, UID, UID, UserName, Home))},
		{Name: "etc/group", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, UID))},
		{Name: "etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Name: strings.TrimPrefix(CACertsPath, "/"), Mode: 0o644, Data: s.CACerts},
		{Name: strings.TrimPrefix(Home, "/"), Dir: true, Mode: 0o700, UID: UID, GID: UID},
		{Name: strings.TrimPrefix(WorkDir, "/"), Dir: true, Mode: 0o700, UID: UID, GID: UID},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}
	return append(files, s.Extra...)
}

// tarball writes entries as a reproducible tar: sorted, every parent
// directory present, every time mtime, no user or group names.
func tarball(entries []entry, mtime time.Time) ([]byte, error) {
	byName := map[string]entry{}
	for _, e := range entries {
		name := path.Clean(strings.TrimPrefix(e.Name, "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("bad path %q in the image", e.Name)
		}
		e.Name = name
		if old, ok := byName[name]; ok && (old.Dir != e.Dir || !e.Dir) {
			return nil, fmt.Errorf("%s is in the image twice", "/"+name)
		}
		byName[name] = e
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := byName[dir]; !ok {
				byName[dir] = entry{Name: dir, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := byName[n]
		if !e.Dir {
			if d, ok := byName[path.Dir(n)]; ok && !d.Dir {
				return nil, fmt.Errorf("/%s is a file and a directory", path.Dir(n))
			}
		}
		h := &tar.Header{Name: n, Mode: e.Mode, Uid: e.UID, Gid: e.GID, ModTime: mtime.UTC().Truncate(time.Second)}
		if e.Dir {
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !e.Dir {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blobs is an OCI layout's content store being filled.
type blobs map[string][]byte

func (bs blobs) add(mediaType string, data []byte) descriptor {
	d := digest(data)
	bs[d] = data
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (bs blobs) addJSON(mediaType string, v any) (descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return bs.add(mediaType, data), nil
}

// built is an image assembled in memory.
type built struct {
	Blobs blobs
	Index ociIndex // the layout's index.json
	// Docker is manifest.json for `docker load`, for a single platform.
	Docker []dockerManifest
	// Sizes: per platform, the compressed bytes of its blobs (what a
	// registry stores and a node pulls) and its layer's uncompressed bytes.
	Sizes []platformSize
}

type platformSize struct {
	Platform             string
	Compressed, Unpacked int64
}

func (s spec) labels() map[string]string {
	return map[string]string{
		LabelVersion:  s.Version,
		LabelRevision: s.Revision,
		LabelSource:   s.Source,
		LabelLicenses: License,
		LabelTitle:    "unstuck",
		LabelDesc:     "A Slack bot that investigates incidents on AWS",
		LabelCreated:  s.Created.UTC().Format(time.RFC3339),
	}
}

// build assembles the image: one layer per platform (the binaries, the CA
// bundle, the user's entries in /etc/passwd and /etc/group, its home and
// work directory, /tmp), its config and manifest; for several platforms an
// image index over them.
func build(s spec) (*built, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	out := &built{Blobs: blobs{}}
	var manifests []descriptor
	for _, b := range s.Platforms {
		layerTar, err := tarball(s.rootfs(b), s.Created)
		if err != nil {
			return nil, err
		}
		layerGz, err := gzipped(layerTar)
		if err != nil {
			return nil, err
		}
		layer := out.Blobs.add(mediaLayerGz, layerGz)
		cfg := imageConfig{
			Created:      s.Created.UTC(),
			Architecture: b.Platform.Arch,
			OS:           b.Platform.OS,
			Variant:      b.Platform.Variant,
			Config: containerConfig{
				User:       User,
				Env:        []string{"HOME=" + Home},
				Entrypoint: []string{Entrypoint},
				Cmd:        DefaultCmd,
				WorkingDir: WorkDir,
				Labels:     s.labels(),
				Volumes:    map[string]struct{}{WorkDir: {}},
			},
			RootFS:  rootFS{Type: "layers", DiffIDs: []string{digest(layerTar)}},
			History: []history{{Created: s.Created.UTC(), CreatedBy: "unstuck tools/image", Comment: "static bot, health check, CA certificates, user " + User}},
		}
		if s.tweak != nil {
			s.tweak(&cfg)
		}
		cfgDesc, err := out.Blobs.addJSON(mediaConfig, cfg)
		if err != nil {
			return nil, err
		}
		man := ociManifest{SchemaVersion: 2, MediaType: mediaManifest, Config: cfgDesc, Layers: []descriptor{layer},
			Annotations: map[string]string{LabelVersion: s.Version, LabelRevision: s.Revision, LabelSource: s.Source, LabelLicenses: License}}
		manDesc, err := out.Blobs.addJSON(mediaManifest, man)
		if err != nil {
			return nil, err
		}
		manDesc.Platform = &ociPlatform{Architecture: b.Platform.Arch, OS: b.Platform.OS, Variant: b.Platform.Variant}
		manifests = append(manifests, manDesc)
		out.Sizes = append(out.Sizes, platformSize{Platform: b.Platform.String(), Compressed: cfgDesc.Size + layer.Size + manDesc.Size, Unpacked: int64(len(layerTar))})
		out.Docker = append(out.Docker, dockerManifest{
			Config:   "blobs/sha256/" + strings.TrimPrefix(cfgDesc.Digest, "sha256:"),
			RepoTags: []string{s.Tag},
			Layers:   []string{"blobs/sha256/" + strings.TrimPrefix(layer.Digest, "sha256:")},
		})
	}
	top := manifests[0]
	if len(manifests) > 1 {
		// Several platforms: the layout's one entry is an image index
		// over them, pushed as a multi-platform image.
		var err error
		top, err = out.Blobs.addJSON(mediaIndex, ociIndex{SchemaVersion: 2, MediaType: mediaIndex, Manifests: manifests})
		if err != nil {
			return nil, err
		}
		out.Docker = nil // docker load takes one platform
	}
	top.Annotations = map[string]string{annRefName: refName(s.Tag)}
	out.Index = ociIndex{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{top}}
	return out, nil
}

// refName is the OCI ref name for a tag such as unstuck:v1.2.3: the part
// after the repository, as skopeo's oci:DIR:REF and crane expect.
func refName(tag string) string {
	if i := strings.LastIndex(tag, ":"); i >= 0 && !strings.Contains(tag[i:], "/") {
		return tag[i+1:]
	}
	return "latest"
}

// files is the OCI image layout's files: oci-layout, index.json and the
// blobs; withDocker adds manifest.json for `docker load`.
func (b *built) files(withDocker bool) (map[string][]byte, error) {
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	idx, err := json.Marshal(b.Index)
	if err != nil {
		return nil, err
	}
	files["index.json"] = idx
	for d, data := range b.Blobs {
		files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = data
	}
	if withDocker && len(b.Docker) > 0 {
		m, err := json.Marshal(b.Docker)
		if err != nil {
			return nil, err
		}
		files["manifest.json"] = m
	}
	return files, nil
}

// writeLayout writes the layout to dir, replacing an earlier layout there;
// it refuses a directory that holds anything else.
func (b *built) writeLayout(dir string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s is not empty and holds no OCI layout: not overwriting it", dir)
		}
	}
	files, err := b.files(false)
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// writeTar writes the layout as one tarball (with manifest.json for a
// single platform): `docker load -i`, `skopeo copy oci-archive:`, `crane
// push` take it.
func (b *built) writeTar(w io.Writer, mtime time.Time) error {
	files, err := b.files(true)
	if err != nil {
		return err
	}
	var entries []entry
	for name, data := range files {
		entries = append(entries, entry{Name: name, Mode: 0o644, Data: data})
	}
	data, err := tarball(entries, mtime)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
