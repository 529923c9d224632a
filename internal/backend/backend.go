// Package backend holds the capability interfaces every image platform implements and
// the types they exchange. It knows nothing of Terraform: resources translate their
// models into these types, and backends translate these types into API calls.
package backend

import (
	"context"
	"io"
	"time"
)

// Kind is the type of an endpoint, as written in the provider's endpoints map.
type Kind string

const (
	KindIncus     Kind = "incus"
	KindLXD       Kind = "lxd"
	KindOpenStack Kind = "openstack"
	KindAir       Kind = "air"
)

// Capability names one thing an endpoint may be asked to do.
type Capability string

const (
	CapImages          Capability = "images"
	CapImageAliases    Capability = "image aliases"
	CapImageMembers    Capability = "image members"
	CapImageShares     Capability = "image shares"
	CapInstances       Capability = "instances"
	CapImageExport     Capability = "image export"
	CapRemoteImages    Capability = "images pulled from a remote image server"
	CapURLImages       Capability = "images the server downloads from a URL"
	CapImageProfiles   Capability = "image profiles"
	CapImageAutoUpdate Capability = "image auto_update"
)

// Image is an image as a backend reports it.
type Image struct {
	// ID is what the backend's API addresses the image by: the fingerprint on
	// Incus and LXD, a UUID on Glance and Air.
	ID           string
	Fingerprint  string
	Name         string
	Type         string
	Architecture string
	Size         int64
	// Properties is nil on kinds whose images have none (Air).
	Public     bool
	AutoUpdate bool
	Properties map[string]string
	Profiles   []string
	Aliases    []ImageAlias
	CreatedAt  time.Time
	UploadedAt time.Time
	ExpiresAt  time.Time
	Status     string
	// SHA256 is the sha256 of the content the provider sent, when the server
	// records it (the fingerprint of an Incus image made from one file; a property
	// the provider sets on Glance); empty when unknown.
	SHA256 string
	// OpenStack holds what only Glance has; nil on other kinds.
	OpenStack *OpenStackImage
	// Air holds what only NVIDIA Air has; nil on other kinds.
	Air *AirImage
}

// AirImage is what an Air image has beyond the common fields. Its password is
// never read back: Air returns it, but the provider only sends it.
type AirImage struct {
	Version          string
	DefaultUsername  string
	CPUArch          string
	Provider         string
	EmulationType    []string
	EmulationVersion string
	Mountpoint       string
	MinimumResources AirResources
	IncludesAirAgent bool
	Published        bool
	// UploadStatus is READY, UPLOADING, VALIDATING, COMPLETE, PUBLISHING,
	// UNPUBLISHING or COPYING_FROM_IMAGE_SHARE.
	UploadStatus string
	Creator      string
}

// AirResources are the least an Air simulation node of the image needs.
type AirResources struct {
	CPU     int64
	Memory  int64
	Storage int64
}

// AirAttrs are the Air settings a user manages. Nil fields are left as the server has
// them; DefaultPassword is sent only when set (it is write-only).
type AirAttrs struct {
	Version          *string
	DefaultUsername  *string
	DefaultPassword  *string
	CPUArch          *string
	Provider         *string
	EmulationType    []string
	EmulationVersion *string
	Mountpoint       *string
	MinimumResources *AirResources
	IncludesAirAgent *bool
	Published        *bool
}

// OpenStackImage is what a Glance image has beyond the common fields.
type OpenStackImage struct {
	DiskFormat      string
	ContainerFormat string
	// Visibility is private, shared, community or public.
	Visibility string
	Protected  bool
	Hidden     bool
	MinDiskGB  int64
	MinRAMMB   int64
	Tags       []string
	Owner      string
	// Checksum is the md5 Glance computed; OSHashAlgo and OSHashValue its
	// multihash (sha512 by default).
	Checksum    string
	OSHashAlgo  string
	OSHashValue string
}

// OpenStackAttrs are the Glance settings a user manages. Nil fields are left as the
// server has them. DiskFormat and ContainerFormat are set at creation only.
type OpenStackAttrs struct {
	DiskFormat      string
	ContainerFormat string
	Visibility      *string
	Protected       *bool
	Hidden          *bool
	MinDiskGB       *int64
	MinRAMMB        *int64
	Tags            []string
	Deactivated     *bool
}

// ImageAlias is an alias as listed inside an image.
type ImageAlias struct {
	Name        string
	Description string
}

// Alias is a standalone alias object.
type Alias struct {
	Name        string
	Description string
	Target      string
	Type        string
}

// ImageAttrs are the image attributes a user sets and a backend can change in place.
// Nil fields are left as the server has them.
type ImageAttrs struct {
	// Name is the image's name: the name on Glance and Air, the "name" property on
	// Incus and LXD, which have no name of their own.
	Name       *string
	Public     *bool
	AutoUpdate *bool
	Properties map[string]string
	Profiles   []string
	// ExpiresAt set to the zero time removes the expiry.
	ExpiresAt *time.Time
	// OpenStack applies on Glance only; other kinds ignore it.
	OpenStack *OpenStackAttrs
	// Air applies on Air only; other kinds ignore it.
	Air *AirAttrs
}

// ImageCreate describes a new image: where its content comes from and its attributes.
// Aliases are made by the caller once the image is recorded, so a refused alias never
// orphans the image.
type ImageCreate struct {
	Source ImageSource
	Attrs  ImageAttrs
	// Progress, when set, is told how many bytes of the content have been sent.
	Progress func(sent int64)
}

// ImageSource is exactly one of its fields.
type ImageSource struct {
	// Content is local content streamed to the server.
	Content *ImageContent
	// URL asks the server to download the image itself.
	URL string
	// Remote asks the server to pull the image from an image server.
	Remote *RemoteImage
	// Claim takes an image another organisation shared (Air image shares).
	Claim *ClaimSource
}

// ClaimSource names a share to claim, optionally under a new name and version.
type ClaimSource struct {
	ShareID string
	Name    string
	Version string
}

// ImageContent is image content read as a stream: a unified Incus tarball (Metadata
// only), a split Incus image (Metadata and Rootfs), or a bare disk image (Disk only).
type ImageContent struct {
	Metadata     io.Reader
	MetadataName string
	Rootfs       io.Reader
	RootfsName   string
	// VM marks a split image whose rootfs is a disk image.
	VM bool
	// Disk is a bare disk image and DiskFormat its format (qcow2, raw, vmdk, vhd,
	// vhdx, vdi, iso). Incus and LXD receive it as a virtual-machine image whose
	// metadata the backend generates from Architecture and CreatedAt.
	Disk         io.Reader
	DiskFormat   string
	Architecture string
	CreatedAt    time.Time
	// Size is the length of a unified image's or a disk's content when known (0
	// when not), so it can be sent with a Content-Length rather than chunked.
	Size int64
	// At is the same disk readable at offsets when it is a local file, so that a
	// backend can send parts of it in parallel and read it twice (a digest first).
	At io.ReaderAt
	// Reopen, when set, streams the disk again from its start, for a backend that
	// needs the digest before the content and has no At (a copy between endpoints).
	Reopen func(ctx context.Context) (io.ReadCloser, error)
	// SHA256 is the digest the content must have, when the caller knows it; the
	// backend verifies it against what the server reports after the upload.
	SHA256 string
}

// RemoteImage names an image on a remote image server.
type RemoteImage struct {
	Server       string
	Protocol     string
	Alias        string
	Type         string
	Architecture string
	// Certificate is the image server's certificate (PEM), when the system's CAs do
	// not vouch for it.
	Certificate string
}

// ImageExport is an image's content streamed out of a server. The caller closes it.
type ImageExport struct {
	Content ImageContent
	Close   func() error
}

// ImageFilter narrows a listing. Empty fields do not filter. A backend filters on
// the server what its API can filter, and may return more: callers check every
// result against the filter again.
type ImageFilter struct {
	Name       string
	Properties map[string]string
	// Glance only.
	Tags         []string
	Visibility   string
	MemberStatus string
	Owner        string
	Status       string
	// Hidden: "true", "false" or "either"; empty means Glance's default (false).
	Hidden string
}

// ImageStore manages images.
type ImageStore interface {
	CreateImage(ctx context.Context, spec ImageCreate) (*Image, error)
	GetImage(ctx context.Context, id string) (*Image, error)
	ListImages(ctx context.Context, filter ImageFilter) ([]Image, error)
	UpdateImage(ctx context.Context, id string, attrs ImageAttrs) error
	DeleteImage(ctx context.Context, id string) error
}

// ImageExporter streams an image's content out, so it can be copied elsewhere.
type ImageExporter interface {
	ExportImage(ctx context.Context, id string) (*ImageExport, error)
}

// AliasStore manages named aliases that point at images.
type AliasStore interface {
	CreateAlias(ctx context.Context, a Alias) error
	GetAlias(ctx context.Context, name string) (*Alias, error)
	ListAliases(ctx context.Context) ([]Alias, error)
	UpdateAlias(ctx context.Context, a Alias) error
	DeleteAlias(ctx context.Context, name string) error
}

// Member is a project an image is shared with (Glance image members).
type Member struct {
	ImageID  string
	MemberID string
	Status   string
}

// MemberStore manages who an image is shared with, by project.
type MemberStore interface {
	AddMember(ctx context.Context, imageID, memberID string) (*Member, error)
	GetMember(ctx context.Context, imageID, memberID string) (*Member, error)
	UpdateMember(ctx context.Context, imageID, memberID, status string) (*Member, error)
	RemoveMember(ctx context.Context, imageID, memberID string) error
}

// Share is an image offered to another organisation (Air image shares).
type Share struct {
	ID           string
	ImageID      string
	TargetOrg    string
	ExpiresAt    time.Time
	State        string
	ClaimedBy    string
	ImageName    string
	ImageVersion string
	CreatedAt    time.Time
}

// ShareStore manages image shares. A share offered to the caller is claimed by
// creating an image from it (ImageSource.Claim).
type ShareStore interface {
	CreateShare(ctx context.Context, s Share) (*Share, error)
	GetShare(ctx context.Context, id string) (*Share, error)
	DeleteShare(ctx context.Context, id string) error
}
