package airemu

import (
	"bytes"
	"crypto/md5" //nolint:gosec // S3's ETag
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests talk to a Server over HTTP, as the provider does: orgs "a" and "b".
func startTwoOrgs(t *testing.T, opts Options) (*Server, *client, *client) {
	t.Helper()
	opts.Orgs = map[string]string{"a": "token-a", "b": "token-b"}
	s := Start(t, opts)
	return s, newClient(t, s, "token-a"), newClient(t, s, "token-b")
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func newClient(t *testing.T, s *Server, token string) *client {
	return &client{t: t, base: s.APIURL(), token: token}
}

// reply is a decoded JSON answer.
type reply struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r reply) str(key string) string { return str(r.body, key) }

// num is a number field, 0 when absent.
func (r reply) num(key string) float64 {
	v, _ := r.body[key].(float64)
	return v
}

// objects is a list of objects field, such as a list's "results".
func (r reply) objects(key string) []map[string]any {
	list, _ := r.body[key].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		out = append(out, m)
	}
	return out
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// rawBody is a request body sent as it is, not as JSON.
type rawBody string

// do sends method to path (under the API base unless absolute) with body as JSON.
func (c *client) do(method, path string, body any) reply {
	c.t.Helper()
	var rd io.Reader
	if raw, ok := body.(rawBody); ok {
		rd = strings.NewReader(string(raw))
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	out := reply{status: resp.StatusCode, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			c.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// must is do, failing the test unless the status is want.
func (c *client) must(want int, method, path string, body any) reply {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// fails checks a JSON error answer: its status, its 400 type and that its detail
// contains detail.
func (c *client) fails(status int, kind, detail, method, path string, body any) reply {
	c.t.Helper()
	r := c.must(status, method, path, body)
	if !strings.Contains(r.str("detail"), detail) {
		c.t.Fatalf("%s %s: detail %q does not contain %q", method, path, r.str("detail"), detail)
	}
	if r.str("request_id") == "" {
		c.t.Fatalf("%s %s: no request_id in %s", method, path, r.raw)
	}
	if r.str("type") != kind {
		c.t.Fatalf("%s %s: type %q, want %q", method, path, r.str("type"), kind)
	}
	return r
}

func (c *client) createImage(name, version string) string {
	c.t.Helper()
	return c.must(http.StatusCreated, "POST", "images/", map[string]any{
		"name": name, "version": version, "default_username": "cumulus", "default_password": "secret",
	}).str("id")
}

// waitStatus polls image id until its upload_status is want.
func (c *client) waitStatus(id, want string) reply {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.must(http.StatusOK, "GET", "images/"+id+"/", nil)
		if r.str("upload_status") == want {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("image %s is %s, not %s, after 10s: %s", id, r.str("upload_status"), want, r.raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// started is a start-upload answer.
type started struct {
	uploadID  string
	urls      []string
	chunkSize int64
}

func (c *client) startUpload(id string, data []byte) started {
	c.t.Helper()
	sum := sha256.Sum256(data)
	r := c.must(http.StatusOK, "PATCH", "images/"+id+"/start-upload/", map[string]any{"hash": hex.EncodeToString(sum[:]), "size": len(data)})
	st := started{uploadID: r.str("upload_id"), chunkSize: int64(r.num("chunk_size"))}
	for _, u := range r.objects("part_urls") {
		st.urls = append(st.urls, str(u, "url"))
	}
	return st
}

// putPart sends data to a part URL as the SDK does: raw bytes with a
// Content-Length, no bearer token.
func putPart(url string, data []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// part is the slice of data part number n (from 1) covers.
func part(data []byte, chunk int64, n int) []byte {
	start := int64(n-1) * chunk
	return data[start:min(start+chunk, int64(len(data)))]
}

// uploadParts sends every part with workers goroutines, in shuffled order, and
// returns complete-upload's parts list.
func (c *client) uploadParts(st started, data []byte, workers int) []map[string]any {
	c.t.Helper()
	order := rand.Perm(len(st.urls))
	etags := make([]string, len(st.urls))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				resp, body, err := putPart(st.urls[i], part(data, st.chunkSize, i+1))
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err.Error())
				case resp.StatusCode != http.StatusOK:
					errs = append(errs, fmt.Sprintf("part %d: %d %s", i+1, resp.StatusCode, body))
				default:
					etags[i] = strings.Trim(resp.Header.Get("ETag"), `"`)
				}
				mu.Unlock()
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		c.t.Fatalf("part uploads failed: %v", errs)
	}
	parts := make([]map[string]any, len(etags))
	for i, etag := range etags {
		parts[i] = map[string]any{"part_number": i + 1, "etag": etag}
	}
	return parts
}

// upload runs a whole multipart upload of data and waits for COMPLETE.
func (c *client) upload(id string, data []byte, workers int) reply {
	c.t.Helper()
	st := c.startUpload(id, data)
	parts := c.uploadParts(st, data, workers)
	c.must(http.StatusOK, "PATCH", "images/"+id+"/complete-upload/", map[string]any{"parts": parts})
	return c.waitStatus(id, StatusComplete)
}

func randomData(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func md5hex(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
