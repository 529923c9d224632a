package airemu

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// FailMode is how a failing part request fails.
type FailMode string

const (
	// FailUnavailable reads the part, then answers 503 SlowDown, as S3 does when
	// throttling.
	FailUnavailable FailMode = "503"
	// FailReset reads half of the part, then resets the connection.
	FailReset FailMode = "reset"
)

// ParseFailMode reads "503" or "reset".
func ParseFailMode(s string) (FailMode, error) {
	switch m := FailMode(s); m {
	case FailUnavailable, FailReset:
		return m, nil
	}
	return "", fmt.Errorf("fail mode %q is neither %q nor %q", s, FailUnavailable, FailReset)
}

type partKey struct {
	image string
	part  int
}

type partFailure struct {
	left int
	mode FailMode
}

// FailPart makes the next times requests for part partNumber of imageID fail with
// mode. imageID "*" is any image and partNumber 0 any part; times 0 removes the
// rule. A rule for the image and part wins over "*", which wins over part 0.
func (s *Server) FailPart(imageID string, partNumber, times int, mode FailMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := partKey{imageID, partNumber}
	if times <= 0 {
		delete(s.partFailures, key)
		return
	}
	s.partFailures[key] = &partFailure{left: times, mode: mode}
}

// takeFailure consumes one failure of the most specific rule for the part, "" when
// the request is to succeed. The caller holds s.mu.
func (s *Server) takeFailure(imageID string, part int) FailMode {
	for _, key := range []partKey{{imageID, part}, {"*", part}, {imageID, 0}, {"*", 0}} {
		f := s.partFailures[key]
		if f == nil {
			continue
		}
		f.left--
		if f.left <= 0 {
			delete(s.partFailures, key)
		}
		return f.mode
	}
	return ""
}

// SetBandwidth caps each part request's read side at bytesPerSecond (0: no cap);
// requests under way follow the new rate.
func (s *Server) SetBandwidth(bytesPerSecond int64) { s.bandwidth.Store(bytesPerSecond) }

// SetValidationDelay sets how long later uploads stay VALIDATING.
func (s *Server) SetValidationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validationDelay = d
}

// SetTransitionDelay sets how long later publishes, unpublishes and claims stay in
// their transient status.
func (s *Server) SetTransitionDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transitionDelay = d
}

// FailValidation makes every validation from now on fail with reason, whatever the
// data; "" restores real validation.
func (s *Server) FailValidation(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failValidation = reason
}

// SetProtected makes deleting imageID ("*": every image) answer 400 PROTECTED, as
// for an image a simulation uses.
func (s *Server) SetProtected(imageID string, protected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if protected {
		s.protected[imageID] = true
	} else {
		delete(s.protected, imageID)
	}
}

// SetDeleteClaimedShares sets whether a share is deleted once its claim's copy
// completes (see the package comment).
func (s *Server) SetDeleteClaimedShares(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteClaimed = on
}

// SetShareCleanupDelay sets how long an expired share stays visible.
func (s *Server) SetShareCleanupDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shareCleanupDelay = d
}

// ExpireShare moves share id's expiry into the past, which the API cannot do; it
// reports whether the share exists.
func (s *Server) ExpireShare(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shares[id]
	if sh == nil {
		return false
	}
	sh.ExpiresAt = now().Add(-time.Second)
	return true
}

// ImageState is an image as the emulator holds it.
type ImageState struct {
	ID, Org, Name, Version string
	UploadStatus           string
	Published              bool
	Hash                   string
	Size                   int64
	// ValidationError is the reason the last validation failed, if it did.
	ValidationError string
}

func (img *image) state() ImageState {
	return ImageState{
		ID: img.ID, Org: img.Org, Name: img.Name, Version: img.Version, UploadStatus: img.UploadStatus,
		Published: img.Published, Hash: img.Hash, Size: img.Size, ValidationError: img.ValidationError,
	}
}

// Images lists org's images (every org's for ""), oldest first.
func (s *Server) Images(org string) []ImageState {
	s.mu.Lock()
	var imgs []*image
	for _, img := range s.images {
		if org == "" || img.Org == org {
			imgs = append(imgs, img)
		}
	}
	sortList("", imgs, imageOrder)
	out := make([]ImageState, len(imgs))
	for i, img := range imgs {
		out[i] = img.state()
	}
	s.mu.Unlock()
	return out
}

// Image is image id, if it exists.
func (s *Server) Image(id string) (ImageState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.images[id]
	if img == nil {
		return ImageState{}, false
	}
	return img.state(), true
}

// ShareState is a share as the emulator holds it.
type ShareState struct {
	ID, ImageID          string
	SourceOrg, TargetOrg string
	State, ClaimedBy     string
	ExpiresAt            time.Time
}

// Shares lists the shares not yet cleaned up, oldest first.
func (s *Server) Shares() []ShareState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeExpiredShares()
	var shares []*share
	for _, sh := range s.shares {
		shares = append(shares, sh)
	}
	slices.SortFunc(shares, func(a, b *share) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]ShareState, len(shares))
	for i, sh := range shares {
		out[i] = ShareState{
			ID: sh.ID, ImageID: sh.ImageID, SourceOrg: sh.SourceOrg, TargetOrg: sh.TargetOrg,
			State: sh.State, ClaimedBy: sh.ClaimedBy, ExpiresAt: sh.ExpiresAt,
		}
	}
	return out
}

// PartRequests counts the part PUTs for imageID's uploads that reached an upload
// (failed and retried ones included).
func (s *Server) PartRequests(imageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partRequests[imageID]
}

// MaxConcurrentParts is the most part PUTs for imageID that were in flight at once.
func (s *Server) MaxConcurrentParts(imageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxPartsInFlight[imageID]
}

// ContentSHA256 reads imageID's stored data (COMPLETE, or a claim's copy) and
// returns its size and sha256.
func (s *Server) ContentSHA256(imageID string) (int64, string, error) {
	s.mu.Lock()
	img := s.images[imageID]
	var files []string
	if img != nil {
		files = append(files, img.content...)
	}
	s.mu.Unlock()
	switch {
	case img == nil:
		return 0, "", fmt.Errorf("image %s does not exist", imageID)
	case len(files) == 0:
		return 0, "", errors.New("image " + imageID + " has no data")
	}
	return s.digest(files)
}
