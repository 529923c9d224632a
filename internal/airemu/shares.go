package airemu

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Share states.
const (
	ShareActive  = "ACTIVE"
	ShareClaimed = "CLAIMED"
)

// shareStates are the values the list's state filter accepts: the API reference
// also names EXPIRED, which the emulator never shows (see the package comment).
var shareStates = []string{ShareActive, ShareClaimed, "EXPIRED"}

// defaultShareTTL is a share's lifetime when the request names no expires_at.
const defaultShareTTL = 24 * time.Hour

type share struct {
	ID        string
	Created   time.Time
	Modified  time.Time
	ImageID   string
	SourceOrg string
	TargetOrg string
	ExpiresAt time.Time
	ClaimedBy string
	State     string
}

type shareJSON struct {
	ID                   string `json:"id"`
	Created              string `json:"created"`
	Modified             string `json:"modified"`
	Image                string `json:"image"`
	ImageName            string `json:"image_name"`
	ImageVersion         string `json:"image_version"`
	SourceOrgDisplayName string `json:"source_org_display_name"`
	TargetOrgDisplayName string `json:"target_org_display_name"`
	TargetOrg            string `json:"target_org"`
	ExpiresAt            string `json:"expires_at"`
	ClaimedBy            string `json:"claimed_by"`
	State                string `json:"state"`
}

// shareJSON answers sh with its image's current name and version.
func (s *Server) shareJSON(sh *share) shareJSON {
	out := shareJSON{
		ID: sh.ID, Created: timestamp(sh.Created), Modified: timestamp(sh.Modified), Image: sh.ImageID,
		SourceOrgDisplayName: sh.SourceOrg, TargetOrgDisplayName: sh.TargetOrg, TargetOrg: sh.TargetOrg,
		ExpiresAt: timestamp(sh.ExpiresAt), ClaimedBy: sh.ClaimedBy, State: sh.State,
	}
	if img := s.images[sh.ImageID]; img != nil {
		out.ImageName, out.ImageVersion = img.Name, img.Version
	}
	return out
}

// purgeExpiredShares is the service's background clean-up, run lazily: an
// unclaimed share goes once it has been expired for the clean-up delay.
func (s *Server) purgeExpiredShares() {
	t := now()
	for id, sh := range s.shares {
		if sh.State == ShareActive && !t.Before(sh.ExpiresAt.Add(s.shareCleanupDelay)) {
			delete(s.shares, id)
		}
	}
}

// ownShare is share id when org made it; the target org only knows the id.
func (s *Server) ownShare(org, id string) (*share, *apiError) {
	s.purgeExpiredShares()
	sh := s.shares[id]
	if sh == nil || sh.SourceOrg != org {
		return nil, notFound()
	}
	return sh, nil
}

func (s *Server) createShare(c *call) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	for _, f := range []string{"image", "target_org"} {
		if !b.has(f) {
			return 0, nil, badRequest("%s: This field is required.", f)
		}
	}
	imageID, err := b.str("image", 1, 0)
	if err != nil {
		return 0, nil, err
	}
	target, err := b.str("target_org", 1, 0)
	if err != nil {
		return 0, nil, err
	}
	t := now()
	expires := t.Add(defaultShareTTL)
	if b.has("expires_at") {
		if expires, err = b.datetime("expires_at"); err != nil {
			return 0, nil, err
		}
		if !expires.After(t) {
			return 0, nil, badRequest("expires_at: The expiration must be in the future.")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.images[imageID]
	switch {
	case img == nil || img.Org != c.org:
		return 0, nil, badRequest("image: Invalid pk %q - object does not exist.", imageID)
	case img.UploadStatus != StatusComplete:
		return 0, nil, badRequest("image: Only an image with upload_status COMPLETE can be shared; this one is %s.", img.UploadStatus)
	case img.Published:
		return 0, nil, badRequest("image: A published image cannot be shared.")
	case target == c.org:
		return 0, nil, badRequest("target_org: The target organization must be different from your organization.")
	case s.tokens[target] == "":
		return 0, nil, badRequest("target_org: Organization %q was not found.", target)
	}
	sh := &share{
		ID: newUUID(), Created: t, Modified: t, ImageID: imageID, SourceOrg: c.org, TargetOrg: target,
		ExpiresAt: expires.Truncate(time.Microsecond), State: ShareActive,
	}
	s.shares[sh.ID] = sh
	return http.StatusCreated, s.shareJSON(sh), nil
}

func (s *Server) getShare(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.ownShare(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.shareJSON(sh), nil
}

func (s *Server) deleteShare(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.ownShare(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	// As Air's API reference says: a claimed share is the record of the claim.
	if sh.State == ShareClaimed {
		return 0, nil, badRequest("Image shares in the CLAIMED state cannot be deleted.")
	}
	delete(s.shares, id)
	return http.StatusNoContent, nil, nil
}

func (s *Server) listShares(c *call) (int, any, *apiError) {
	q := c.r.URL.Query()
	s.mu.Lock()
	s.purgeExpiredShares()
	var matched []shareJSON
	for _, sh := range s.shares {
		if sh.SourceOrg == c.org {
			matched = append(matched, s.shareJSON(sh))
		}
	}
	s.mu.Unlock()
	matched, err := filterList(q, matched, shareFilters)
	if err != nil {
		return 0, nil, err
	}
	sortList(q.Get("ordering"), matched, shareOrder)
	return http.StatusOK, paginate(c.r, matched), nil
}

// shareFilters are the list's query filters, as the API reference lists them.
var shareFilters = map[string]filter[shareJSON]{
	"image":                   exact(func(s shareJSON) string { return s.Image }),
	"image_name":              exact(func(s shareJSON) string { return s.ImageName }),
	"image_version":           exact(func(s shareJSON) string { return s.ImageVersion }),
	"claimed_by":              exact(func(s shareJSON) string { return s.ClaimedBy }),
	"target_org":              exact(func(s shareJSON) string { return s.TargetOrg }),
	"target_org_display_name": exact(func(s shareJSON) string { return s.TargetOrgDisplayName }),
	"source_org_display_name": exact(func(s shareJSON) string { return s.SourceOrgDisplayName }),
	"state":                   choice(shareStates, func(s shareJSON) string { return s.State }),
	"search": func(v string) (func(shareJSON) bool, *apiError) {
		v = strings.ToLower(v)
		return func(s shareJSON) bool {
			for _, f := range []string{s.ImageName, s.ImageVersion, s.TargetOrgDisplayName, s.SourceOrgDisplayName} {
				if strings.Contains(strings.ToLower(f), v) {
					return true
				}
			}
			return false
		}, nil
	},
}

// shareOrder compares the timestamps as written, which sort as the times do.
var shareOrder = map[string]func(a, b shareJSON) int{
	"created":       byString(func(s shareJSON) string { return s.Created }),
	"modified":      byString(func(s shareJSON) string { return s.Modified }),
	"expires_at":    byString(func(s shareJSON) string { return s.ExpiresAt }),
	"image_name":    byString(func(s shareJSON) string { return s.ImageName }),
	"image_version": byString(func(s shareJSON) string { return s.ImageVersion }),
	"target_org":    byString(func(s shareJSON) string { return s.TargetOrg }),
	"state":         byString(func(s shareJSON) string { return s.State }),
	"id":            byString(func(s shareJSON) string { return s.ID }),
}

// claimShare copies a share's image into the caller's org: the new image is
// COPYING_FROM_IMAGE_SHARE until the transition delay has passed, then COMPLETE.
// The data is hard-linked at once, so deleting the source later cannot take it.
func (s *Server) claimShare(c *call) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	if !b.has("image_share") {
		return 0, nil, badRequest("image_share: This field is required.")
	}
	shareID, err := b.str("image_share", 1, 0)
	if err != nil {
		return 0, nil, err
	}
	rename := body{}
	for _, f := range []string{"name", "version"} {
		if b.has(f) {
			rename[f] = b[f]
		}
	}
	s.mu.Lock()
	s.purgeExpiredShares()
	sh := s.shares[shareID]
	var src *image
	if sh != nil {
		src = s.images[sh.ImageID]
	}
	var aerr *apiError
	switch {
	case sh == nil || sh.TargetOrg != c.org:
		aerr = badRequest("image_share: Image share %q was not found for your organization.", shareID)
	case sh.State != ShareActive:
		aerr = badRequest("image_share: Only ACTIVE image shares may be claimed; this one is %s.", sh.State)
	case !now().Before(sh.ExpiresAt):
		aerr = badRequest("image_share: The image share has expired.")
	case src == nil || src.UploadStatus != StatusComplete:
		aerr = badRequest("image_share: The shared image is no longer COMPLETE.")
	}
	if aerr != nil {
		s.mu.Unlock()
		return 0, nil, aerr
	}
	t := now()
	img := &image{
		ID: newUUID(), Org: c.org, Name: src.Name, Version: src.Version, Created: t, Modified: t,
		Creator: userEmail(c.org), IncludesAirAgent: src.IncludesAirAgent, CPUArch: src.CPUArch,
		DefaultUsername: src.DefaultUsername, DefaultPassword: src.DefaultPassword,
		EmulationType: append([]string{}, src.EmulationType...), EmulationVersion: src.EmulationVersion,
		Provider: src.Provider, MinimumResources: src.MinimumResources, Mountpoint: src.Mountpoint,
		Notes: src.Notes, ReleaseNotes: src.ReleaseNotes, UserManual: src.UserManual,
		UploadStatus: StatusCopying, Size: src.Size, Hash: src.Hash,
	}
	if aerr = applyImageFields(img, rename); aerr == nil && s.nameTaken(c.org, img.Name, img.Version, "") {
		aerr = uniqueError()
	}
	if aerr != nil {
		s.mu.Unlock()
		return 0, nil, aerr
	}
	sources := append([]string(nil), src.content...)
	dir := filepath.Join(s.imageDir(img.ID), newUUID())
	s.images[img.ID] = img
	sh.State, sh.ClaimedBy, sh.Modified = ShareClaimed, userEmail(c.org), t
	out := img.json(c.org)
	s.mu.Unlock()

	content, copyErr := linkContent(sources, dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[img.ID] != img {
		_ = os.RemoveAll(s.imageDir(img.ID))
		return http.StatusCreated, out, nil
	}
	if copyErr != nil {
		img.Hash, img.Size, img.ValidationError = "", 0, fmt.Sprintf("copying the shared image: %v", copyErr)
		img.setStatus(StatusReady)
		return http.StatusCreated, out, nil
	}
	img.content = content
	gen := img.gen
	s.after(s.transitionDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.images[img.ID] != img || img.gen != gen {
			return
		}
		done := now()
		img.LastUploadedAt = &done
		img.setStatus(StatusComplete)
		if s.deleteClaimed {
			delete(s.shares, sh.ID)
		}
	})
	return http.StatusCreated, out, nil
}

// linkContent hard-links (or, failing that, copies) the files into dir.
func linkContent(files []string, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := make([]string, len(files))
	for i, src := range files {
		out[i] = filepath.Join(dir, fmt.Sprintf("part-%05d", i+1))
		if os.Link(src, out[i]) == nil {
			continue
		}
		if err := copyFile(src, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := out.ReadFrom(in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
