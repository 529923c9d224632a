package airemu

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testChunk = 256 << 10

func TestMultipartUploadConcurrentParts(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk, ValidationDelay: 100 * time.Millisecond})
	id := a.createImage("img", "1")
	data := randomData(11*testChunk + 1234)
	st := a.startUpload(id, data)
	if st.chunkSize != testChunk || len(st.urls) != 12 || !isUUID(st.uploadID) {
		t.Fatalf("start-upload: chunk %d, %d URLs, upload id %q", st.chunkSize, len(st.urls), st.uploadID)
	}
	if r := a.must(http.StatusOK, "GET", "images/"+id+"/", nil); r.str("upload_status") != StatusUploading {
		t.Fatalf("after start-upload: %s", r.raw)
	}
	for i, u := range st.urls {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || strings.Contains(u, "/api/v3/") {
			t.Fatalf("part URL %d %q is not the emulator's own presigned URL", i+1, u)
		}
	}

	// The ETag is S3's: the quoted MD5 of the part.
	resp, _, err := putPart(st.urls[2], part(data, testChunk, 3))
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"`+md5hex(part(data, testChunk, 3))+`"` {
		t.Fatalf("part 3: %v %v %q", err, resp, resp.Header.Get("ETag"))
	}

	parts := a.uploadParts(st, data, 8)
	r := a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	if r.str("upload_status") != StatusValidating {
		t.Fatalf("complete-upload answered %s", r.raw)
	}
	r = a.waitStatus(id, StatusComplete)
	if r.str("hash") != sha256hex(data) || r.num("size") != float64(len(data)) || !timestampRE.MatchString(r.str("last_uploaded_at")) {
		t.Fatalf("COMPLETE image: %s", r.raw)
	}
	if _, ok := r.body["emulator_validation_error"]; ok {
		t.Fatalf("a successful validation left a reason: %s", r.raw)
	}
	size, sum, err := s.ContentSHA256(id)
	if err != nil || size != int64(len(data)) || sum != sha256hex(data) {
		t.Fatalf("stored content: %d %s %v", size, sum, err)
	}
	if n := s.PartRequests(id); n != 13 {
		t.Fatalf("PartRequests = %d, want 13 (12 parts and part 3 twice)", n)
	}
	if n := s.MaxConcurrentParts(id); n < 2 {
		t.Fatalf("MaxConcurrentParts = %d with 8 workers", n)
	}
	// Parts of a completed upload are refused.
	if resp, body, err := putPart(st.urls[0], part(data, testChunk, 1)); err != nil || resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("<Code>NoSuchUpload</Code>")) {
		t.Fatalf("part after complete: %v %v %s", err, resp, body)
	}
}

// A file too big for 10,000 parts of the chunk size gets bigger parts.
func TestStartUploadPartLimit(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{ChunkSize: 1000})
	id := a.createImage("img", "1")
	r := a.must(http.StatusOK, "PATCH", "images/"+id+"/start-upload/", map[string]any{"hash": strings.Repeat("ab", 32), "size": 25_000_001})
	if r.num("chunk_size") != 2501 || len(r.objects("part_urls")) != 9997 {
		t.Fatalf("chunk_size %v, %d parts", r.body["chunk_size"], len(r.objects("part_urls")))
	}
}

func TestStartUploadErrors(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	path := "images/" + id + "/start-upload/"
	a.fails(http.StatusBadRequest, "VALIDATION", "hash: This field is required", "PATCH", path, map[string]any{"size": 5})
	a.fails(http.StatusBadRequest, "VALIDATION", "size: This field is required", "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64)})
	a.fails(http.StatusBadRequest, "VALIDATION", "hash: Ensure this field has at least 64 characters", "PATCH", path, map[string]any{"hash": "abc", "size": 5})
	a.fails(http.StatusBadRequest, "VALIDATION", "SHA256 hex digest", "PATCH", path, map[string]any{"hash": strings.Repeat("g", 64), "size": 5})
	a.fails(http.StatusBadRequest, "VALIDATION", "size: Ensure this value is between 1", "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64), "size": 0})
	a.fails(http.StatusBadRequest, "VALIDATION", "size: Ensure this value is between 1", "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64), "size": MaxImageSize + 1})
	a.fails(http.StatusBadRequest, "VALIDATION", "size: A valid integer", "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64), "size": "5"})
	a.must(http.StatusOK, "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64), "size": 5})
	a.fails(http.StatusBadRequest, "VALIDATION", "only start when upload_status is READY; it is UPLOADING", "PATCH", path, map[string]any{"hash": strings.Repeat("a", 64), "size": 5})

	done := a.createImage("done", "1")
	a.upload(done, randomData(100), 1)
	a.fails(http.StatusBadRequest, "VALIDATION", "it is COMPLETE (clear-upload first", "PATCH", "images/"+done+"/start-upload/", map[string]any{"hash": strings.Repeat("a", 64), "size": 5})
}

func TestPartURLRefusals(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	data := randomData(testChunk + 10)
	st := a.startUpload(id, data)

	s3 := func(req *http.Request, status int, code string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != status || !bytes.Contains(body, []byte("<Code>"+code+"</Code>")) || resp.Header.Get("Content-Type") != "application/xml" {
			t.Fatalf("%s %s: %d %s, want %d %s", req.Method, req.URL, resp.StatusCode, body, status, code)
		}
	}
	// The bearer token must not follow the part: S3 refuses a second auth mechanism.
	req, _ := http.NewRequest(http.MethodPut, st.urls[0], bytes.NewReader([]byte("x")))
	req.Header.Set("Authorization", "Bearer token-a")
	s3(req, http.StatusBadRequest, "InvalidArgument")
	// A URL start-upload did not sign.
	req, _ = http.NewRequest(http.MethodPut, strings.Replace(st.urls[0], "partNumber=1", "partNumber=2", 1), bytes.NewReader([]byte("x")))
	s3(req, http.StatusForbidden, "SignatureDoesNotMatch")
	req, _ = http.NewRequest(http.MethodPut, st.urls[0][:len(st.urls[0])-4]+"0000", bytes.NewReader([]byte("x")))
	s3(req, http.StatusForbidden, "SignatureDoesNotMatch")
	req, _ = http.NewRequest(http.MethodGet, st.urls[0], nil)
	s3(req, http.StatusMethodNotAllowed, "MethodNotAllowed")
	// S3 takes no chunked body: the SDK sends a Content-Length for this reason.
	req, _ = http.NewRequest(http.MethodPut, st.urls[0], io.MultiReader(bytes.NewReader(data[:100])))
	req.ContentLength = -1
	s3(req, http.StatusNotImplemented, "NotImplemented")
	if n := s.PartRequests(id); n != 1 {
		t.Fatalf("PartRequests = %d, want 1 (the chunked one reached the upload)", n)
	}

	// A part sent again replaces the earlier one.
	if resp, _, err := putPart(st.urls[0], bytes.Repeat([]byte("z"), testChunk)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first copy of part 1: %v %v", err, resp)
	}
	parts := a.uploadParts(st, data, 2)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	a.waitStatus(id, StatusComplete)

	// After abort-upload, parts of the aborted upload are NoSuchUpload.
	other := a.createImage("other", "1")
	st = a.startUpload(other, data)
	a.must(http.StatusNoContent, "PATCH", "images/"+other+"/abort-upload/", map[string]any{})
	req, _ = http.NewRequest(http.MethodPut, st.urls[0], bytes.NewReader([]byte("x")))
	s3(req, http.StatusNotFound, "NoSuchUpload")
}

func TestCompleteUploadErrors(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	path := "images/" + id + "/complete-upload/"
	a.fails(http.StatusBadRequest, "VALIDATION", "upload_status is UPLOADING; it is READY", "PATCH", path, map[string]any{"parts": []any{map[string]any{"part_number": 1, "etag": "x"}}})
	data := randomData(3*testChunk + 5)
	st := a.startUpload(id, data)
	parts := a.uploadParts(st, data, 4)
	wrong := func(mutate func(p []map[string]any) []map[string]any) []map[string]any {
		cp := make([]map[string]any, len(parts))
		for i, p := range parts {
			cp[i] = map[string]any{"part_number": p["part_number"], "etag": p["etag"]}
		}
		return mutate(cp)
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "parts: This field is required", "PATCH", path, map[string]any{})
	a.fails(http.StatusBadRequest, "VALIDATION", "parts: This list may not be empty", "PATCH", path, map[string]any{"parts": []any{}})
	a.fails(http.StatusBadRequest, "VALIDATION", "parts: Expected a list", "PATCH", path, map[string]any{"parts": "all"})
	a.fails(http.StatusBadRequest, "VALIDATION", "InvalidPart", "PATCH", path, map[string]any{"parts": wrong(func(p []map[string]any) []map[string]any {
		p[1]["etag"] = md5hex([]byte("something else"))
		return p
	})})
	a.fails(http.StatusBadRequest, "VALIDATION", "InvalidPartOrder", "PATCH", path, map[string]any{"parts": wrong(func(p []map[string]any) []map[string]any {
		p[0], p[1] = p[1], p[0]
		return p
	})})
	a.fails(http.StatusBadRequest, "VALIDATION", "InvalidPart", "PATCH", path, map[string]any{"parts": wrong(func(p []map[string]any) []map[string]any {
		p[3] = map[string]any{"part_number": 9, "etag": "abc"}
		return p
	})})
	a.fails(http.StatusBadRequest, "VALIDATION", "part_number and etag are required", "PATCH", path, map[string]any{"parts": []any{map[string]any{"part_number": 1}}})
	if r := a.must(http.StatusOK, "GET", "images/"+id+"/", nil); r.str("upload_status") != StatusUploading {
		t.Fatalf("a refused complete-upload left %s", r.raw)
	}
	// Quoted ETags are as good as bare ones.
	quoted := wrong(func(p []map[string]any) []map[string]any {
		for _, x := range p {
			x["etag"] = `"` + str(x, "etag") + `"`
		}
		return p
	})
	a.must(http.StatusOK, "PATCH", path, map[string]any{"parts": quoted})
	a.waitStatus(id, StatusComplete)
	a.fails(http.StatusBadRequest, "VALIDATION", "it is COMPLETE", "PATCH", path, map[string]any{"parts": quoted})
}

// A part of 5 bytes may only be the last one.
func TestEntityTooSmall(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	data := randomData(2*testChunk + 5)
	st := a.startUpload(id, data)
	parts := a.uploadParts(st, data, 3)
	a.fails(http.StatusBadRequest, "VALIDATION", "EntityTooSmall", "PATCH", "images/"+id+"/complete-upload/",
		map[string]any{"parts": []map[string]any{parts[0], parts[2], {"part_number": 4, "etag": "x"}}[1:]})
}

// The assembled content must have start-upload's size and sha256; when it does not,
// the image goes back to READY with the reason.
func TestValidationFailures(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	data := randomData(2*testChunk + 77)

	// Declared one size, parts of another.
	id := a.createImage("size", "1")
	st := a.startUpload(id, data)
	parts := a.uploadParts(st, data[:len(data)-1], 2)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	r := a.waitStatus(id, StatusReady)
	if !strings.Contains(r.str("emulator_validation_error"), "size mismatch") || r.str("hash") != "" || r.num("size") != 0 {
		t.Fatalf("size mismatch: %s", r.raw)
	}
	if st, _ := s.Image(id); !strings.Contains(st.ValidationError, "size mismatch") {
		t.Fatalf("Image(): %+v", st)
	}

	// Same size, other bytes.
	id = a.createImage("hash", "1")
	st = a.startUpload(id, data)
	other := append([]byte(nil), data...)
	other[len(other)-1] ^= 0xff
	parts = a.uploadParts(st, other, 2)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	r = a.waitStatus(id, StatusReady)
	if !strings.Contains(r.str("emulator_validation_error"), "hash mismatch") {
		t.Fatalf("hash mismatch: %s", r.raw)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.DataDir(), id)); len(entries) != 0 {
		t.Fatalf("a failed upload left data: %v", entries)
	}
	// The image can be uploaded again, which clears the reason.
	r = a.upload(id, data, 2)
	if _, ok := r.body["emulator_validation_error"]; ok {
		t.Fatalf("the reason outlived a good upload: %s", r.raw)
	}

	// The knob fails good data, until it is reset.
	s.FailValidation("the file is not a disk image")
	id = a.createImage("knob", "1")
	st = a.startUpload(id, data)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": a.uploadParts(st, data, 2)})
	if r := a.waitStatus(id, StatusReady); r.str("emulator_validation_error") != "the file is not a disk image" {
		t.Fatalf("FailValidation: %s", r.raw)
	}
	s.FailValidation("")
	a.upload(id, data, 2)
}

func TestValidationDelay(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	s.SetValidationDelay(300 * time.Millisecond)
	id := a.createImage("img", "1")
	data := randomData(100)
	st := a.startUpload(id, data)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": a.uploadParts(st, data, 1)})
	time.Sleep(100 * time.Millisecond)
	if r := a.must(http.StatusOK, "GET", "images/"+id+"/", nil); r.str("upload_status") != StatusValidating {
		t.Fatalf("100ms into a 300ms validation: %s", r.raw)
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "it is VALIDATING", "PATCH", "images/"+id+"/abort-upload/", map[string]any{})
	a.fails(http.StatusBadRequest, "VALIDATION", "it is VALIDATING", "PATCH", "images/"+id+"/clear-upload/", map[string]any{})
	a.waitStatus(id, StatusComplete)
}

func TestAbortAndClearUpload(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	a.fails(http.StatusBadRequest, "VALIDATION", "must be UPLOADING; it is READY", "PATCH", "images/"+id+"/abort-upload/", map[string]any{})
	data := randomData(testChunk + 1)
	st := a.startUpload(id, data)
	a.uploadParts(st, data, 2)
	r := a.must(http.StatusNoContent, "PATCH", "images/"+id+"/abort-upload/", map[string]any{})
	if len(r.raw) != 0 {
		t.Fatalf("abort-upload answered a body: %s", r.raw)
	}
	r = a.must(http.StatusOK, "GET", "images/"+id+"/", nil)
	if r.str("upload_status") != StatusReady || r.str("hash") != "" {
		t.Fatalf("after abort: %s", r.raw)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.DataDir(), id)); len(entries) != 0 {
		t.Fatalf("abort left data: %v", entries)
	}

	a.upload(id, data, 2)
	r = a.must(http.StatusOK, "PATCH", "images/"+id+"/clear-upload/", map[string]any{})
	if r.str("upload_status") != StatusReady || r.str("hash") != "" || r.num("size") != 0 || r.body["last_uploaded_at"] != nil {
		t.Fatalf("clear-upload answered %s", r.raw)
	}
	if _, _, err := s.ContentSHA256(id); err == nil {
		t.Fatal("clear-upload kept the data")
	}
	a.upload(id, data[:100], 1)
}

func TestPartFailures(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	data := randomData(3 * testChunk)
	st := a.startUpload(id, data)

	s.FailPart(id, 2, 2, FailUnavailable)
	for i := range 2 {
		resp, body, err := putPart(st.urls[1], part(data, testChunk, 2))
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("<Code>SlowDown</Code>")) {
			t.Fatalf("failure %d: %v %v %s", i+1, err, resp, body)
		}
	}
	if resp, _, err := putPart(st.urls[1], part(data, testChunk, 2)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("third try: %v %v", err, resp)
	}

	s.FailPart("*", 3, 1, FailReset)
	if resp, _, err := putPart(st.urls[2], part(data, testChunk, 3)); err == nil {
		t.Fatalf("a reset part answered %v", resp.Status)
	}
	// Part 0 is any part; the rule for the image wins over "*".
	s.FailPart("*", 0, 5, FailReset)
	s.FailPart(id, 0, 1, FailUnavailable)
	if resp, _, err := putPart(st.urls[0], part(data, testChunk, 1)); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("image rule: %v %v", err, resp)
	}
	s.FailPart("*", 0, 0, FailReset)
	parts := a.uploadParts(st, data, 3)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	a.waitStatus(id, StatusComplete)
	if n := s.PartRequests(id); n != 8 {
		t.Fatalf("PartRequests = %d, want 8", n)
	}
}

// The cap is per connection: one part at 512 KiB/s takes about a second per
// 512 KiB, and two parts in parallel take about as long as one. Only generous lower
// bounds are asserted, the machine being shared.
func TestBandwidthCap(t *testing.T) {
	const rate = 512 << 10
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: rate})
	id := a.createImage("img", "1")
	data := randomData(2 * rate)
	st := a.startUpload(id, data)
	s.SetBandwidth(rate)

	start := time.Now()
	if resp, _, err := putPart(st.urls[0], part(data, rate, 1)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("part 1: %v %v", err, resp)
	}
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Fatalf("512 KiB at 512 KiB/s took %s", took)
	}

	start = time.Now()
	var wg sync.WaitGroup
	for n := 1; n <= 2; n++ {
		wg.Go(func() {
			if resp, _, err := putPart(st.urls[n-1], part(data, rate, n)); err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("part %d: %v %v", n, err, resp)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if took < 700*time.Millisecond {
		t.Fatalf("two parallel parts at 512 KiB/s each took %s", took)
	}
	t.Logf("two parallel 512 KiB parts at 512 KiB/s per connection: %s", took)

	s.SetBandwidth(0)
	start = time.Now()
	a.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": a.uploadParts(st, data, 2)})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("uncapped upload took %s", took)
	}
}
