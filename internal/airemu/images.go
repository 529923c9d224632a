package airemu

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Upload statuses of an image.
const (
	StatusReady        = "READY"
	StatusUploading    = "UPLOADING"
	StatusValidating   = "VALIDATING"
	StatusComplete     = "COMPLETE"
	StatusPublishing   = "PUBLISHING"
	StatusUnpublishing = "UNPUBLISHING"
	StatusCopying      = "COPYING_FROM_IMAGE_SHARE"
)

// uploadStatuses are the values the list filter accepts; the API reference also
// lists the two PENDING_ ones of its gated publish flow, which the emulator never
// reaches.
var uploadStatuses = []string{
	StatusReady, StatusUploading, StatusValidating, StatusComplete, StatusPublishing,
	StatusUnpublishing, StatusCopying, "PENDING_PUBLISH", "PENDING_UNPUBLISH",
}

type resources struct {
	CPU     int64 `json:"cpu"`
	Memory  int64 `json:"memory"`
	Storage int64 `json:"storage"`
}

type image struct {
	ID                string
	Org               string
	Name              string
	Version           string
	Created           time.Time
	Modified          time.Time
	Creator           string
	Published         bool
	PubliclyPublished bool
	IncludesAirAgent  bool
	CPUArch           string
	DefaultUsername   string
	DefaultPassword   string
	EmulationType     []string
	EmulationVersion  string
	Provider          string
	MinimumResources  resources
	Mountpoint        *string
	Notes             *string
	ReleaseNotes      *string
	UserManual        *string
	UploadStatus      string
	LastUploadedAt    *time.Time
	Size              int64
	Hash              string
	ValidationError   string

	// upload is the multipart upload under way (UPLOADING, VALIDATING).
	upload *upload
	// content is the image's data, its part files in order (COMPLETE).
	content []string
	// gen changes with every status change, so that a delayed transition
	// scheduled before it knows it is stale.
	gen int
}

// imageJSON is an image as the API answers it, fields in the SDK's order.
type imageJSON struct {
	ID                      string    `json:"id"`
	Name                    string    `json:"name"`
	Version                 string    `json:"version"`
	Created                 string    `json:"created"`
	Modified                string    `json:"modified"`
	Creator                 *string   `json:"creator"`
	Published               bool      `json:"published"`
	PubliclyPublished       bool      `json:"publicly_published"`
	IncludesAirAgent        bool      `json:"includes_air_agent"`
	CPUArch                 string    `json:"cpu_arch"`
	DefaultUsername         string    `json:"default_username"`
	DefaultPassword         string    `json:"default_password"`
	EmulationType           []string  `json:"emulation_type"`
	EmulationVersion        string    `json:"emulation_version"`
	Provider                string    `json:"provider"`
	MinimumResources        resources `json:"minimum_resources"`
	Mountpoint              *string   `json:"mountpoint"`
	IsOwnedByClient         bool      `json:"is_owned_by_client"`
	UploadStatus            string    `json:"upload_status"`
	LastUploadedAt          *string   `json:"last_uploaded_at"`
	Size                    int64     `json:"size"`
	Hash                    string    `json:"hash"`
	Notes                   *string   `json:"notes"`
	ReleaseNotes            *string   `json:"release_notes"`
	UserManual              *string   `json:"user_manual"`
	EmulatorValidationError string    `json:"emulator_validation_error,omitempty"`
}

func (img *image) json(org string) imageJSON {
	out := imageJSON{
		ID: img.ID, Name: img.Name, Version: img.Version,
		Created: timestamp(img.Created), Modified: timestamp(img.Modified),
		Published: img.Published, PubliclyPublished: img.PubliclyPublished,
		IncludesAirAgent: img.IncludesAirAgent, CPUArch: img.CPUArch,
		DefaultUsername: img.DefaultUsername, DefaultPassword: img.DefaultPassword,
		EmulationType: append([]string{}, img.EmulationType...), EmulationVersion: img.EmulationVersion,
		Provider: img.Provider, MinimumResources: img.MinimumResources, Mountpoint: img.Mountpoint,
		IsOwnedByClient: img.Org == org, UploadStatus: img.UploadStatus, Size: img.Size, Hash: img.Hash,
		Notes: img.Notes, ReleaseNotes: img.ReleaseNotes, UserManual: img.UserManual,
		EmulatorValidationError: img.ValidationError,
	}
	if img.Creator != "" {
		creator := img.Creator
		out.Creator = &creator
	}
	if img.LastUploadedAt != nil {
		t := timestamp(*img.LastUploadedAt)
		out.LastUploadedAt = &t
	}
	return out
}

// setStatus changes the upload status and invalidates pending transitions.
func (img *image) setStatus(status string) {
	img.UploadStatus = status
	img.Modified = now()
	img.gen++
}

// dir is where the image's data lives.
func (s *Server) imageDir(id string) string { return filepath.Join(s.dataDir, id) }

// visibleImage is image id as org sees it: its own, or another org's public one.
func (s *Server) visibleImage(org, id string) (*image, *apiError) {
	img := s.images[id]
	if img == nil || img.Org != org && (!img.Published || !img.PubliclyPublished) {
		return nil, notFound()
	}
	return img, nil
}

// ownImage is image id when org owns it: another org's public image is a 403.
func (s *Server) ownImage(org, id string) (*image, *apiError) {
	img, err := s.visibleImage(org, id)
	if err != nil {
		return nil, err
	}
	if img.Org != org {
		return nil, forbidden()
	}
	return img, nil
}

// nameTaken says whether org has another image named name at version.
func (s *Server) nameTaken(org, name, version, except string) bool {
	for _, other := range s.images {
		if other.Org == org && other.ID != except && other.Name == name && other.Version == version {
			return true
		}
	}
	return false
}

func uniqueError() *apiError {
	return badRequest("The fields name, version must make a unique set.")
}

func (s *Server) createImage(c *call) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	for _, f := range []string{"name", "version", "default_username", "default_password"} {
		if !b.has(f) {
			return 0, nil, badRequest("%s: This field is required.", f)
		}
	}
	t := now()
	blank := ""
	img := &image{
		ID: newUUID(), Org: c.org, Created: t, Modified: t, Creator: userEmail(c.org),
		CPUArch: "x86", EmulationType: []string{}, Provider: "VM",
		MinimumResources: resources{CPU: 1, Memory: 1024, Storage: 10},
		Notes:            &blank, ReleaseNotes: &blank, UserManual: &blank, UploadStatus: StatusReady,
	}
	if err := applyImageFields(img, b); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameTaken(c.org, img.Name, img.Version, "") {
		return 0, nil, uniqueError()
	}
	s.images[img.ID] = img
	return http.StatusCreated, img.json(c.org), nil
}

// applyImageFields sets the writable fields b carries, all or none.
func applyImageFields(img *image, b body) *apiError {
	next := *img
	var err *apiError
	strFields := []struct {
		name     string
		min, max int
		dst      *string
	}{
		{"name", 1, 128, &next.Name},
		{"version", 1, 64, &next.Version},
		{"default_username", 0, 64, &next.DefaultUsername},
		{"default_password", 0, 64, &next.DefaultPassword},
		{"emulation_version", 0, 64, &next.EmulationVersion},
	}
	for _, f := range strFields {
		if b.has(f.name) {
			if *f.dst, err = b.str(f.name, f.min, f.max); err != nil {
				return err
			}
		}
	}
	nullable := []struct {
		name string
		dst  **string
	}{{"mountpoint", &next.Mountpoint}, {"notes", &next.Notes}, {"release_notes", &next.ReleaseNotes}, {"user_manual", &next.UserManual}}
	for _, f := range nullable {
		if b.has(f.name) {
			if *f.dst, err = b.nullableStr(f.name); err != nil {
				return err
			}
		}
	}
	choices := []struct {
		name    string
		allowed []string
		dst     *string
	}{{"cpu_arch", []string{"x86", "ARM"}, &next.CPUArch}, {"provider", []string{"VM", "CONTAINER"}, &next.Provider}}
	for _, f := range choices {
		if b.has(f.name) {
			v, err := b.str(f.name, 0, 0)
			if err != nil {
				return err
			}
			if !contains(f.allowed, v) {
				return badRequest("%s: %q is not a valid choice.", f.name, v)
			}
			*f.dst = v
		}
	}
	if b.has("includes_air_agent") {
		if next.IncludesAirAgent, err = b.boolean("includes_air_agent"); err != nil {
			return err
		}
	}
	if b.has("emulation_type") {
		if next.EmulationType, err = b.strList("emulation_type"); err != nil {
			return err
		}
	}
	if b.has("minimum_resources") {
		if next.MinimumResources, err = b.resources("minimum_resources"); err != nil {
			return err
		}
	}
	*img = next
	return nil
}

func (s *Server) getImage(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.visibleImage(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, img.json(c.org), nil
}

func (s *Server) patchImage(c *call, id string) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	next := *img
	if err := applyImageFields(&next, b); err != nil {
		return 0, nil, err
	}
	if s.nameTaken(c.org, next.Name, next.Version, id) {
		return 0, nil, uniqueError()
	}
	next.Modified = now()
	*img = next
	return http.StatusOK, img.json(c.org), nil
}

func (s *Server) deleteImage(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		s.mu.Unlock()
		return 0, nil, err
	}
	if s.protected[id] || s.protected["*"] {
		s.mu.Unlock()
		return 0, nil, &apiError{
			status: http.StatusBadRequest, kind: "PROTECTED",
			detail:    "Instance may not be deleted as it is being referenced by other instances.",
			protected: []map[string]string{{"type": "simulation", "id": newUUID()}},
		}
	}
	delete(s.images, id)
	if img.upload != nil {
		delete(s.uploads, img.upload.ID)
	}
	for sid, sh := range s.shares {
		if sh.ImageID == id {
			delete(s.shares, sid)
		}
	}
	s.mu.Unlock()
	_ = os.RemoveAll(s.imageDir(id))
	return http.StatusNoContent, nil, nil
}

func (s *Server) publish(c *call, id string) (int, any, *apiError) {
	return s.setPublished(c, id, true)
}

func (s *Server) unpublish(c *call, id string) (int, any, *apiError) {
	return s.setPublished(c, id, false)
}

// setPublished starts a publish or an unpublish, optionally renaming the image:
// PUBLISHING or UNPUBLISHING now, COMPLETE with published flipped after the
// transition delay.
func (s *Server) setPublished(c *call, id string, publish bool) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	public := true
	if publish && b.has("prefer_public") {
		if public, err = b.boolean("prefer_public"); err != nil {
			return 0, nil, err
		}
	}
	rename := body{}
	for _, f := range []string{"name", "version"} {
		if b.has(f) {
			rename[f] = b[f]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	verb := map[bool]string{true: "publish", false: "unpublish"}[publish]
	switch {
	case img.UploadStatus != StatusComplete:
		return 0, nil, badRequest("Only an image with upload_status COMPLETE can be %sed; this one is %s.", verb, img.UploadStatus)
	case img.Published == publish:
		return 0, nil, badRequest("The image is already %sed.", verb)
	}
	next := *img
	if err := applyImageFields(&next, rename); err != nil {
		return 0, nil, err
	}
	if s.nameTaken(c.org, next.Name, next.Version, id) {
		return 0, nil, uniqueError()
	}
	*img = next
	img.setStatus(map[bool]string{true: StatusPublishing, false: StatusUnpublishing}[publish])
	gen := img.gen
	s.after(s.transitionDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.images[id] != img || img.gen != gen {
			return
		}
		img.Published = publish
		img.PubliclyPublished = publish && public
		img.setStatus(StatusComplete)
	})
	return http.StatusOK, img.json(c.org), nil
}

func (s *Server) listImages(c *call) (int, any, *apiError) {
	q := c.r.URL.Query()
	s.mu.Lock()
	var matched []*image
	for _, img := range s.images {
		if _, err := s.visibleImage(c.org, img.ID); err == nil {
			matched = append(matched, img)
		}
	}
	matched, err := filterList(q, matched, imageFilters(c.org))
	var results []imageJSON
	if err == nil {
		sortList(q.Get("ordering"), matched, imageOrder)
		for _, img := range matched {
			results = append(results, img.json(c.org))
		}
	}
	s.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, paginate(c.r, results), nil
}

// imageFilters are the list's query filters, each matching an image to a value.
func imageFilters(org string) map[string]filter[*image] {
	return map[string]filter[*image]{
		"name":               exact(func(i *image) string { return i.Name }),
		"version":            exact(func(i *image) string { return i.Version }),
		"hash":               exact(func(i *image) string { return i.Hash }),
		"creator":            exact(func(i *image) string { return i.Creator }),
		"upload_status":      choice(uploadStatuses, func(i *image) string { return i.UploadStatus }),
		"cpu_arch":           choice([]string{"x86", "ARM"}, func(i *image) string { return i.CPUArch }),
		"provider":           choice([]string{"VM", "CONTAINER"}, func(i *image) string { return i.Provider }),
		"published":          boolean(func(i *image) bool { return i.Published }),
		"publicly_published": boolean(func(i *image) bool { return i.PubliclyPublished }),
		"includes_air_agent": boolean(func(i *image) bool { return i.IncludesAirAgent }),
		"is_owned_by_client": boolean(func(i *image) bool { return i.Org == org }),
		"search": func(v string) (func(*image) bool, *apiError) {
			v = strings.ToLower(v)
			return func(i *image) bool {
				return strings.Contains(strings.ToLower(i.Name), v) || strings.Contains(strings.ToLower(i.Version), v)
			}, nil
		},
	}
}

// imageOrder are the fields "ordering" accepts.
var imageOrder = map[string]func(a, b *image) int{
	"name":               byString(func(i *image) string { return i.Name }),
	"version":            byString(func(i *image) string { return i.Version }),
	"created":            byTime(func(i *image) time.Time { return i.Created }),
	"modified":           byTime(func(i *image) time.Time { return i.Modified }),
	"creator":            byString(func(i *image) string { return i.Creator }),
	"cpu_arch":           byString(func(i *image) string { return i.CPUArch }),
	"provider":           byString(func(i *image) string { return i.Provider }),
	"upload_status":      byString(func(i *image) string { return i.UploadStatus }),
	"hash":               byString(func(i *image) string { return i.Hash }),
	"size":               byInt(func(i *image) int64 { return i.Size }),
	"published":          byBool(func(i *image) bool { return i.Published }),
	"includes_air_agent": byBool(func(i *image) bool { return i.IncludesAirAgent }),
	"last_uploaded_at": byTime(func(i *image) time.Time {
		if i.LastUploadedAt == nil {
			return time.Time{}
		}
		return *i.LastUploadedAt
	}),
	"id": byString(func(i *image) string { return i.ID }),
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
