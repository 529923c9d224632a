package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

func TestRoute(t *testing.T) {
	f, err := newFolder("ldb-.*")
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]string{
		"/1.0": "/1.0",
		"/1.0/images/6d2e14fbe48ec6a201706b6d302c659865e3069a2e31b523f6600a2f7621c924":             "/1.0/images/{id}",
		"/1.0/images/aliases/ldb-alias-17":                                                         "/1.0/images/aliases/{id}",
		"/1.0/instances/ldb-inst-3?recursion=1":                                                    "/1.0/instances/{id}?recursion=1",
		"/1.0/operations/0b0a3f2e-52f7-4c5e-9d0e-4b8f3a1c2d3e/wait?timeout=30":                     "/1.0/operations/{id}/wait?timeout=30",
		"/v2/images/cc4b180d-47a8-4c56-8e39-18a4b279a442/members/d7edc514d4504db5a989b53050ab5e22": "/v2/images/{id}/members/{id}",
		"/api/v3/images/?limit=1":                                                                  "/api/v3/images/?limit=1",
		"/api/v3/images/?name=ldb-air-1&version=1":                                                 "/api/v3/images/?name={id}&version=1",
		"/s3/air-images/0b0a3f2e-52f7-4c5e-9d0e-4b8f3a1c2d3e?uploadId=5e2a3f2e-52f7-4c5e-9d0e-4b8f3a1c2d3e&partNumber=2&X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": "/s3/air-images/{id}?X-Amz-Signature={id}&partNumber=2&uploadId={id}",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.route(u); got != want {
			t.Errorf("route(%s) = %s, want %s", raw, got, want)
		}
	}
}

func TestRewriteCatalog(t *testing.T) {
	o := &openstack{front: "http://127.0.0.1:4000"}
	doc := `{"token":{"catalog":[{"type":"identity","endpoints":[{"url":"http://127.0.0.1:5000/v3"}]},` +
		`{"type":"image","endpoints":[{"url":"http://127.0.0.1:9292"},{"url":"http://127.0.0.1:9292/v2"}]}]}}`
	resp := &http.Response{
		StatusCode: http.StatusCreated,
		Request:    &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v3/auth/tokens"}},
		Header:     http.Header{},
		Body:       io.NopCloser(bytes.NewReader([]byte(doc))),
	}
	if err := o.rewriteCatalog(resp); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		Token struct {
			Catalog []struct {
				Type      string
				Endpoints []struct{ URL string }
			}
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	urls := map[string][]string{}
	for _, s := range got.Token.Catalog {
		for _, e := range s.Endpoints {
			urls[s.Type] = append(urls[s.Type], e.URL)
		}
	}
	if want := []string{"http://127.0.0.1:4000", "http://127.0.0.1:4000/v2"}; len(urls["image"]) != 2 || urls["image"][0] != want[0] || urls["image"][1] != want[1] {
		t.Errorf("image endpoints %v, want %v", urls["image"], want)
	}
	if urls["identity"][0] != "http://127.0.0.1:5000/v3" {
		t.Errorf("identity endpoint %v changed", urls["identity"])
	}
	if up := o.upstream(); up == nil || up.String() != "http://127.0.0.1:9292" {
		t.Errorf("upstream %v, want http://127.0.0.1:9292", up)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for a body of %d bytes", resp.ContentLength, len(body))
	}
}
