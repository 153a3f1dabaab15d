package main

import (
	"time"
)

// What every unstuck image is; the checker holds a built image to it, and
// image_test.go holds the Dockerfile to it too.
const (
	// UID and GID of the user the bot runs as (distroless's "nonroot").
	UID      = 65532
	UserName = "nonroot"
	User     = "65532:65532"
	Home     = "/home/nonroot"
	// WorkDir is where a file store (unstuck.db) is written; a volume, so
	// that a read-only root filesystem still has it writable.
	WorkDir    = "/data"
	Entrypoint = "/bot"
	// HealthcheckPath is a tiny static program (tools/healthcheck) that
	// asks the bot's /healthz, for health checks that run a command in the
	// container (ECS, Docker): the image has no shell and no curl.
	HealthcheckPath = "/healthcheck"
	CACertsPath     = "/etc/ssl/certs/ca-certificates.crt"
	License         = "Apache-2.0"
)

// DefaultCmd is the image's default command (after the entrypoint).
var DefaultCmd = []string{"serve"}

// The OCI labels an image must carry (org.opencontainers.image.*).
const (
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelSource   = "org.opencontainers.image.source"
	LabelLicenses = "org.opencontainers.image.licenses"
	LabelTitle    = "org.opencontainers.image.title"
	LabelDesc     = "org.opencontainers.image.description"
	LabelCreated  = "org.opencontainers.image.created"
)

// RequiredLabels are the labels the checker requires, non-empty.
var RequiredLabels = []string{LabelVersion, LabelRevision, LabelSource, LabelLicenses}

// Shells are the base names no image may contain: an image without a
// shell gives an intruder nothing to run.
var Shells = []string{"sh", "bash", "dash", "ash", "zsh", "ksh", "csh", "tcsh", "busybox", "toybox"}

// Media types (OCI image spec v1.1).
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	annRefName    = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *ociPlatform      `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ociPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

type ociIndex struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type imageConfig struct {
	Created      time.Time       `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history,omitempty"`
}

type containerConfig struct {
	User       string              `json:"User,omitempty"`
	Env        []string            `json:"Env,omitempty"`
	Entrypoint []string            `json:"Entrypoint,omitempty"`
	Cmd        []string            `json:"Cmd,omitempty"`
	WorkingDir string              `json:"WorkingDir,omitempty"`
	Labels     map[string]string   `json:"Labels,omitempty"`
	Volumes    map[string]struct{} `json:"Volumes,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	Comment   string    `json:"comment,omitempty"`
}

// dockerManifest is one entry of a `docker save` tarball's manifest.json,
// so that `docker load` (also before Docker 25) takes the tarball.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}
