package airemu

import (
	"context"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // S3's part ETag is an MD5, not a security measure
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// bucket names the part URLs' path, as an S3 bucket would.
const bucket = "air-images"

// upload is one multipart upload: what start-upload declared and the parts
// received so far.
type upload struct {
	ID        string
	image     *image
	Hash      string
	Size      int64
	ChunkSize int64
	Parts     int
	dir       string
	parts     map[int]partFile
	// completed is set by complete-upload: S3 then refuses more parts.
	completed bool
}

type partFile struct {
	path string
	etag string
	size int64
}

func (s *Server) startUpload(c *call, id string) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	for _, f := range []string{"hash", "size"} {
		if !b.has(f) {
			return 0, nil, badRequest("%s: This field is required.", f)
		}
	}
	hash, err := b.str("hash", 64, 64)
	if err != nil {
		return 0, nil, err
	}
	if strings.IndexFunc(hash, func(c rune) bool { return !isHex(c) }) >= 0 {
		return 0, nil, badRequest("hash: Enter a SHA256 hex digest of 64 characters.")
	}
	size, err := b.integer("size")
	if err != nil {
		return 0, nil, err
	}
	if size < 1 || size > MaxImageSize {
		return 0, nil, badRequest("size: Ensure this value is between 1 and %d.", int64(MaxImageSize))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	if img.UploadStatus != StatusReady {
		return 0, nil, badRequest("An upload can only start when upload_status is READY; it is %s (clear-upload first to replace a COMPLETE file).", img.UploadStatus)
	}
	chunk := s.chunkSize
	if parts := (size + chunk - 1) / chunk; parts > MaxParts {
		chunk = (size + MaxParts - 1) / MaxParts
	}
	up := &upload{
		ID: newUUID(), image: img, Hash: strings.ToLower(hash), Size: size, ChunkSize: chunk,
		Parts: int((size + chunk - 1) / chunk), parts: map[int]partFile{},
	}
	up.dir = filepath.Join(s.imageDir(id), up.ID)
	if err := os.MkdirAll(up.dir, 0o755); err != nil {
		return 0, nil, &apiError{status: http.StatusInternalServerError, detail: err.Error()}
	}
	s.uploads[up.ID] = up
	img.upload = up
	img.Hash, img.Size, img.ValidationError = up.Hash, size, ""
	img.setStatus(StatusUploading)
	type partURL struct {
		URL string `json:"url"`
	}
	urls := make([]partURL, up.Parts)
	for i := range urls {
		n := i + 1
		urls[i].URL = fmt.Sprintf("%s%s%s/%s?partNumber=%d&uploadId=%s&X-Amz-Signature=%s",
			baseURL(c.r), partsPrefix, bucket, id, n, up.ID, s.sign(id, up.ID, n))
	}
	return http.StatusOK, map[string]any{"upload_id": up.ID, "part_urls": urls, "chunk_size": chunk}, nil
}

// sign is a part URL's signature: only URLs start-upload made are accepted.
func (s *Server) sign(imageID, uploadID string, part int) string {
	mac := hmac.New(sha256.New, s.secret)
	_, _ = fmt.Fprintf(mac, "%s/%s/%d", imageID, uploadID, part)
	return hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) completeUpload(c *call, id string) (int, any, *apiError) {
	b, err := readBody(c.r)
	if err != nil {
		return 0, nil, err
	}
	if !b.has("parts") {
		return 0, nil, badRequest("parts: This field is required.")
	}
	var parts []struct {
		PartNumber *int    `json:"part_number"`
		ETag       *string `json:"etag"`
	}
	if json.Unmarshal(b["parts"], &parts) != nil || parts == nil {
		return 0, nil, badRequest("parts: Expected a list of objects with part_number and etag.")
	}
	if len(parts) == 0 {
		return 0, nil, badRequest("parts: This list may not be empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		return 0, nil, err
	}
	up := img.upload
	if img.UploadStatus != StatusUploading || up == nil {
		return 0, nil, badRequest("An upload can only complete when upload_status is UPLOADING; it is %s.", img.UploadStatus)
	}
	minPart := min(int64(MinPartSize), up.ChunkSize)
	files := make([]string, len(parts))
	for i, p := range parts {
		if p.PartNumber == nil || p.ETag == nil {
			return 0, nil, badRequest("parts[%d]: part_number and etag are required.", i)
		}
		n := *p.PartNumber
		if i > 0 && n <= *parts[i-1].PartNumber {
			return 0, nil, badRequest("InvalidPartOrder: The list of parts was not in ascending order. The parts list must be specified in order of the part number.")
		}
		got, ok := up.parts[n]
		if !ok || !strings.EqualFold(strings.Trim(got.etag, `"`), strings.Trim(*p.ETag, `"`)) {
			return 0, nil, badRequest("InvalidPart: One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag (part %d).", n)
		}
		if i < len(parts)-1 && got.size < minPart {
			return 0, nil, badRequest("EntityTooSmall: Your proposed upload is smaller than the minimum allowed size (part %d has %d bytes, the minimum is %d).", n, got.size, minPart)
		}
		files[i] = got.path
	}
	up.completed = true
	img.setStatus(StatusValidating)
	gen := img.gen
	s.after(s.validationDelay, func() { s.validate(img, gen, up, files) })
	return http.StatusOK, img.json(c.org), nil
}

// validate checks the assembled parts against start-upload's size and sha256,
// reading them in order from disk: COMPLETE when they match, else back to READY
// with the reason.
func (s *Server) validate(img *image, gen int, up *upload, files []string) {
	s.mu.Lock()
	reason := s.failValidation
	s.mu.Unlock()
	if reason == "" {
		size, sum, err := s.digest(files)
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil:
			reason = fmt.Sprintf("reading the uploaded parts: %v", err)
		case size != up.Size:
			reason = fmt.Sprintf("size mismatch: start-upload declared %d bytes, the uploaded parts hold %d", up.Size, size)
		case sum != up.Hash:
			reason = fmt.Sprintf("hash mismatch: start-upload declared sha256 %s, the uploaded parts hash to %s", up.Hash, sum)
		}
	}
	s.mu.Lock()
	if s.images[img.ID] != img || img.gen != gen {
		s.mu.Unlock()
		return
	}
	delete(s.uploads, up.ID)
	img.upload = nil
	var garbage []string
	if reason == "" {
		img.content = files
		t := now()
		img.LastUploadedAt = &t
		img.setStatus(StatusComplete)
		for _, p := range up.parts {
			if !contains(files, p.path) {
				garbage = append(garbage, p.path)
			}
		}
	} else {
		img.Hash, img.Size, img.ValidationError = "", 0, reason
		img.setStatus(StatusReady)
		garbage = append(garbage, up.dir)
	}
	s.mu.Unlock()
	for _, path := range garbage {
		_ = os.RemoveAll(path)
	}
}

// digest streams files, in order, through sha256.
func (s *Server) digest(files []string) (int64, string, error) {
	h := sha256.New()
	var size int64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return 0, "", err
		}
		n, err := io.Copy(h, ctxReader{s.ctx, f})
		f.Close()
		size += n
		if err != nil {
			return 0, "", err
		}
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

func (s *Server) abortUpload(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		s.mu.Unlock()
		return 0, nil, err
	}
	up := img.upload
	if img.UploadStatus != StatusUploading || up == nil {
		s.mu.Unlock()
		return 0, nil, badRequest("Only an upload in progress can be aborted: upload_status must be UPLOADING; it is %s.", img.UploadStatus)
	}
	delete(s.uploads, up.ID)
	img.upload = nil
	img.Hash, img.Size = "", 0
	img.setStatus(StatusReady)
	s.mu.Unlock()
	_ = os.RemoveAll(up.dir)
	return http.StatusNoContent, nil, nil
}

func (s *Server) clearUpload(c *call, id string) (int, any, *apiError) {
	s.mu.Lock()
	img, err := s.ownImage(c.org, id)
	if err != nil {
		s.mu.Unlock()
		return 0, nil, err
	}
	switch {
	case img.UploadStatus != StatusReady && img.UploadStatus != StatusComplete:
		s.mu.Unlock()
		return 0, nil, badRequest("The upload can only be cleared when upload_status is READY or COMPLETE; it is %s.", img.UploadStatus)
	case img.Published:
		s.mu.Unlock()
		return 0, nil, badRequest("The upload of a published image cannot be cleared; unpublish it first.")
	}
	dirs := contentDirs(img.content)
	img.content = nil
	img.Hash, img.Size, img.LastUploadedAt, img.ValidationError = "", 0, nil, ""
	img.setStatus(StatusReady)
	out := img.json(c.org)
	s.mu.Unlock()
	for _, dir := range dirs {
		_ = os.RemoveAll(dir)
	}
	return http.StatusOK, out, nil
}

// contentDirs are the directories holding content's files, which hold nothing else.
func contentDirs(content []string) []string {
	var dirs []string
	for _, path := range content {
		if dir := filepath.Dir(path); !contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// servePart is the presigned part URL: S3's UploadPart, with S3's XML errors.
func (s *Server) servePart(w http.ResponseWriter, r *http.Request) {
	imageID := strings.TrimPrefix(r.URL.Path, partsPrefix+bucket+"/")
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	part, perr := strconv.Atoi(q.Get("partNumber"))
	switch {
	case r.Header.Get("Authorization") != "":
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	case perr != nil || !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(s.sign(imageID, uploadID, part))):
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		return
	case r.Method != http.MethodPut:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	s.mu.Lock()
	up := s.uploads[uploadID]
	if up == nil || up.completed || up.image.ID != imageID {
		s.mu.Unlock()
		noSuchUpload(w)
		return
	}
	s.partRequests[imageID]++
	failure := s.takeFailure(imageID, part)
	s.partsInFlight[imageID]++
	s.maxPartsInFlight[imageID] = max(s.maxPartsInFlight[imageID], s.partsInFlight[imageID])
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.partsInFlight[imageID]--
		s.mu.Unlock()
	}()

	switch {
	case len(r.TransferEncoding) > 0:
		s3Error(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented: Transfer-Encoding.")
		return
	case r.ContentLength < 0:
		s3Error(w, http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	body := &pacedReader{r: r.Body, rate: &s.bandwidth, ctx: ctx}
	switch failure {
	case FailUnavailable:
		_, _ = io.Copy(io.Discard, body)
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	case FailReset:
		_, _ = io.CopyN(io.Discard, body, r.ContentLength/2)
		resetConnection(w)
		return
	}
	s.storePart(w, r, up, part, body)
}

// storePart streams the part to a file beside the others, then puts it in place
// of any earlier copy of the same part.
func (s *Server) storePart(w http.ResponseWriter, r *http.Request, up *upload, part int, body io.Reader) {
	f, err := os.CreateTemp(up.dir, fmt.Sprintf("part-%d.*.tmp", part))
	if err != nil {
		noSuchUpload(w)
		return
	}
	sum := md5.New() //nolint:gosec // see the import
	n, err := io.Copy(io.MultiWriter(f, sum), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != r.ContentLength {
		_ = os.Remove(f.Name())
		s3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	etag := `"` + hex.EncodeToString(sum.Sum(nil)) + `"`
	s.mu.Lock()
	if s.uploads[up.ID] != up || up.completed {
		s.mu.Unlock()
		_ = os.Remove(f.Name())
		noSuchUpload(w)
		return
	}
	path := filepath.Join(up.dir, fmt.Sprintf("part-%05d", part))
	err = os.Rename(f.Name(), path)
	if err == nil {
		up.parts[part] = partFile{path: path, etag: etag, size: n}
	}
	s.mu.Unlock()
	if err != nil {
		_ = os.Remove(f.Name())
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func noSuchUpload(w http.ResponseWriter) {
	s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
}

func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
	}{Code: code, Message: message, RequestID: strings.ToUpper(strings.ReplaceAll(newUUID(), "-", "")[:16])})
}

// resetConnection drops the client's connection with a TCP reset, as a network
// failure mid-part would.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// pacedReader reads no faster than *rate bytes per second (no limit when 0). A
// part request is the only one on its connection while it lasts, so this is the
// per-connection cap.
type pacedReader struct {
	r     io.Reader
	rate  *atomic.Int64
	ctx   context.Context
	start time.Time
	n     int64
	last  int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	rate := p.rate.Load()
	if rate != p.last || p.start.IsZero() {
		p.start, p.n, p.last = time.Now(), 0, rate
	}
	if rate > 0 && int64(len(b)) > rate/20+1 {
		b = b[:rate/20+1] // at most 50 ms worth at a time, so the pace is smooth
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if rate > 0 && n > 0 {
		due := p.start.Add(time.Duration(float64(p.n) / float64(rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			timer := time.NewTimer(wait)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-p.ctx.Done():
				return n, p.ctx.Err()
			}
		}
	}
	return n, err
}
