package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
)

// checked is what the checker read of one platform's image.
type checked struct {
	Platform             string
	Compressed, Unpacked int64
	Config               imageConfig
	Files                map[string]*layerFile
}

type layerFile struct {
	Header tar.Header
	Data   []byte
}

// problems gathers every way an image falls short, to report them at once.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "\n"))
}

// tarFS reads an image tarball (the layout as one file) into memory.
func tarFS(r io.Reader) (fs.FS, error) {
	m := fstest.MapFS{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tarball: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading the tarball: %w", err)
		}
		m[path.Clean(h.Name)] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return m, nil
}

// checkLayout checks an OCI image layout as every unstuck image must be:
// blobs match their digests and sizes, layers their diff ids; entrypoint
// /bot, default command serve, a user that is not root and has its
// /etc/passwd entry, the OCI labels, static binaries for the platform, CA
// certificates, a writable work directory, and no shell and no set-uid
// file anywhere. It returns what it read of each platform, and an error
// that lists every problem.
func checkLayout(fsys fs.FS) ([]checked, error) {
	var p problems
	var lay struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := readJSON(fsys, "oci-layout", &lay); err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	if lay.Version != "1.0.0" {
		p.add("oci-layout: imageLayoutVersion %q, want 1.0.0", lay.Version)
	}
	var idx ociIndex
	if err := readJSON(fsys, "index.json", &idx); err != nil {
		return nil, err
	}
	if len(idx.Manifests) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	var out []checked
	for _, d := range idx.Manifests {
		if d.Annotations[annRefName] == "" {
			p.add("index.json: %s has no %s annotation (skopeo's oci:DIR:REF and crane find an image by it)", d.Digest, annRefName)
		}
		switch d.MediaType {
		case mediaManifest:
			if c, ok := checkImage(fsys, d, &p); ok {
				out = append(out, c)
			}
		case mediaIndex:
			var inner ociIndex
			if err := readBlobJSON(fsys, d, &inner); err != nil {
				p.add("%v", err)
				continue
			}
			if len(inner.Manifests) == 0 {
				p.add("image index %s lists no image", d.Digest)
			}
			for _, m := range inner.Manifests {
				if m.Platform == nil {
					p.add("image index %s: manifest %s names no platform", d.Digest, m.Digest)
				}
				if c, ok := checkImage(fsys, m, &p); ok {
					out = append(out, c)
				}
			}
		default:
			p.add("index.json: %s has media type %q, want an OCI manifest or index", d.Digest, d.MediaType)
		}
	}
	checkDocker(fsys, &p)
	return out, p.err()
}

// checkDocker checks manifest.json, when the tarball has one, against the
// blobs it names.
func checkDocker(fsys fs.FS, p *problems) {
	data, err := fs.ReadFile(fsys, "manifest.json")
	if err != nil {
		return
	}
	var dm []dockerManifest
	if err := json.Unmarshal(data, &dm); err != nil {
		p.add("manifest.json: %v", err)
		return
	}
	for _, m := range dm {
		for _, f := range append([]string{m.Config}, m.Layers...) {
			if _, err := fs.Stat(fsys, f); err != nil {
				p.add("manifest.json names %s, which the tarball lacks", f)
			}
		}
		if len(m.RepoTags) == 0 {
			p.add("manifest.json: an image without a tag")
		}
	}
}

func readJSON(fsys fs.FS, name string, v any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// readBlob reads the blob d describes and checks its size and digest.
func readBlob(fsys fs.FS, d descriptor) ([]byte, error) {
	alg, hexd, ok := strings.Cut(d.Digest, ":")
	if !ok || alg != "sha256" || len(hexd) != 64 {
		return nil, fmt.Errorf("digest %q is not sha256:<64 hex>", d.Digest)
	}
	data, err := fs.ReadFile(fsys, "blobs/sha256/"+hexd)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if int64(len(data)) != d.Size {
		return nil, fmt.Errorf("blob %s is %d bytes, its descriptor says %d", d.Digest, len(data), d.Size)
	}
	if got := digest(data); got != d.Digest {
		return nil, fmt.Errorf("blob %s has digest %s", d.Digest, got)
	}
	return data, nil
}

func readBlobJSON(fsys fs.FS, d descriptor, v any) error {
	data, err := readBlob(fsys, d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("blob %s (%s): %w", d.Digest, d.MediaType, err)
	}
	return nil
}

// checkImage checks one platform's image; ok is false when it could not
// be read far enough to say what it is.
func checkImage(fsys fs.FS, d descriptor, p *problems) (checked, bool) {
	var c checked
	var man ociManifest
	if err := readBlobJSON(fsys, d, &man); err != nil {
		p.add("%v", err)
		return c, false
	}
	if err := readBlobJSON(fsys, man.Config, &c.Config); err != nil {
		p.add("config: %v", err)
		return c, false
	}
	cfg := c.Config
	c.Platform = cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		c.Platform += "/" + cfg.Variant
	}
	at := func(format string, args ...any) { p.add(c.Platform+": "+format, args...) }
	if d.Platform != nil && (d.Platform.OS != cfg.OS || d.Platform.Architecture != cfg.Architecture) {
		at("the index says %s/%s", d.Platform.OS, d.Platform.Architecture)
	}
	c.Compressed = d.Size + man.Config.Size
	if len(man.Layers) != len(cfg.RootFS.DiffIDs) {
		at("%d layers but %d diff ids", len(man.Layers), len(cfg.RootFS.DiffIDs))
		return c, false
	}
	c.Files = map[string]*layerFile{}
	for i, l := range man.Layers {
		c.Compressed += l.Size
		data, err := readBlob(fsys, l)
		if err != nil {
			at("layer %d: %v", i, err)
			return c, false
		}
		if l.MediaType != mediaLayerGz {
			at("layer %d: media type %q, want %s", i, l.MediaType, mediaLayerGz)
			return c, false
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			at("layer %d: %v", i, err)
			return c, false
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			at("layer %d: %v", i, err)
			return c, false
		}
		if got := digest(raw); got != cfg.RootFS.DiffIDs[i] {
			at("layer %d: uncompressed digest %s, the config's diff id is %s", i, got, cfg.RootFS.DiffIDs[i])
		}
		c.Unpacked += int64(len(raw))
		if err := readLayer(raw, c.Files); err != nil {
			at("layer %d: %v", i, err)
			return c, false
		}
	}
	checkConfig(c, at)
	return c, true
}

// readLayer applies one layer's tar to files.
func readLayer(raw []byte, files map[string]*layerFile) error {
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		base := path.Base(name)
		if rest, ok := strings.CutPrefix(base, ".wh."); ok {
			delete(files, path.Join(path.Dir(name), rest))
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		files[name] = &layerFile{Header: *h, Data: data}
	}
}

func checkConfig(c checked, at func(string, ...any)) {
	cfg := c.Config.Config
	if !slices.Equal(cfg.Entrypoint, []string{Entrypoint}) {
		at("entrypoint %q, want [%q]", cfg.Entrypoint, Entrypoint)
	}
	if !slices.Equal(cfg.Cmd, DefaultCmd) {
		at("cmd %q, want %q", cfg.Cmd, DefaultCmd)
	}
	uid, err := resolveUser(cfg.User, c.Files)
	switch {
	case err != nil:
		at("user: %v", err)
	case uid == 0:
		at("user %q is root", cfg.User)
	}
	for _, l := range RequiredLabels {
		if strings.TrimSpace(cfg.Labels[l]) == "" {
			at("label %s is missing", l)
		}
	}
	if got := cfg.Labels[LabelLicenses]; got != "" && got != License {
		at("label %s is %q, want %q", LabelLicenses, got, License)
	}
	machine := elfMachine[c.Config.Architecture]
	for _, bin := range []string{Entrypoint, HealthcheckPath} {
		f := c.Files[bin]
		switch {
		case f == nil:
			at("%s is missing", bin)
		case f.Header.Typeflag != tar.TypeReg || f.Header.Mode&0o111 == 0:
			at("%s is not an executable file", bin)
		case machine == 0:
			at("architecture %q is not amd64 or arm64", c.Config.Architecture)
		default:
			if err := checkStaticELF(f.Data, platform{OS: c.Config.OS, Arch: c.Config.Architecture}); err != nil {
				at("%s: %v", bin, err)
			}
		}
	}
	if f := c.Files[CACertsPath]; f == nil || !bytes.Contains(f.Data, []byte("-----BEGIN CERTIFICATE-----")) {
		at("%s is missing or holds no certificate", CACertsPath)
	}
	if cfg.WorkingDir != "" {
		if f := c.Files[cfg.WorkingDir]; f == nil || f.Header.Typeflag != tar.TypeDir {
			at("working directory %s is not in the image", cfg.WorkingDir)
		} else if err == nil && f.Header.Uid != uid {
			at("working directory %s is owned by uid %d, not the user's %d: a file store could not be written", cfg.WorkingDir, f.Header.Uid, uid)
		}
	}
	for name, f := range c.Files {
		if f.Header.Typeflag != tar.TypeDir && slices.Contains(Shells, path.Base(name)) {
			at("%s is a shell: the image must have none", name)
		}
		if f.Header.Mode&0o6000 != 0 && f.Header.Typeflag != tar.TypeDir {
			at("%s is set-uid or set-gid", name)
		}
	}
}

// resolveUser is the uid an image's User runs as: a number, or a name in
// its /etc/passwd; a uid must have a passwd entry too.
func resolveUser(user string, files map[string]*layerFile) (int, error) {
	if user == "" {
		return 0, errors.New("not set: the image would run as root")
	}
	name, _, _ := strings.Cut(user, ":")
	var passwd []byte
	if f := files["/etc/passwd"]; f != nil {
		passwd = f.Data
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) < 7 {
			continue
		}
		if fields[0] == name || fields[2] == name {
			uid, err := strconv.Atoi(fields[2])
			if err != nil {
				return 0, fmt.Errorf("/etc/passwd: %q has uid %q", fields[0], fields[2])
			}
			return uid, nil
		}
	}
	return 0, fmt.Errorf("%q has no entry in /etc/passwd", name)
}
