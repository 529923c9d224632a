package airemu

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The SDK's datetime parser takes 0, 3 or 6 fractional digits; the emulator writes 6.
var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

var imageKeys = []string{
	"created", "cpu_arch", "creator", "default_password", "default_username", "emulation_type",
	"emulation_version", "hash", "id", "includes_air_agent", "is_owned_by_client", "last_uploaded_at",
	"minimum_resources", "modified", "mountpoint", "name", "notes", "provider", "published",
	"publicly_published", "release_notes", "size", "upload_status", "user_manual", "version",
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAuthentication(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{})
	id := a.createImage("img", "1")
	anon := newClient(t, s, "")
	anon.fails(http.StatusUnauthorized, "", "credentials were not provided", "GET", "images/", nil)
	anon.fails(http.StatusUnauthorized, "", "credentials were not provided", "GET", "images/"+id+"/", nil)
	stranger := newClient(t, s, "nvapi-unknown")
	stranger.fails(http.StatusUnauthorized, "", "Invalid token", "GET", "images/", nil)
	stranger.fails(http.StatusUnauthorized, "", "Invalid token", "POST", "images/shares/", map[string]any{})
	// A token of another scheme is no bearer token.
	basic := newClient(t, s, "")
	basic.token = ""
	r := basic.do("GET", "images/", nil)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
}

// Another org's unpublished image does not exist for the caller, whatever the route.
func TestOtherOrgsImageIsNotFound(t *testing.T) {
	_, a, b := startTwoOrgs(t, Options{})
	id := a.createImage("img", "1")
	for _, rt := range []struct{ method, path string }{
		{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"PATCH", "start-upload/"}, {"PATCH", "complete-upload/"},
		{"PATCH", "abort-upload/"}, {"PATCH", "clear-upload/"}, {"PATCH", "publish/"}, {"PATCH", "unpublish/"},
	} {
		b.fails(http.StatusNotFound, "", "Not found", rt.method, "images/"+id+"/"+rt.path, map[string]any{"hash": strings.Repeat("a", 64), "size": 1, "parts": []any{map[string]any{"part_number": 1, "etag": "x"}}})
	}
	if r := b.must(http.StatusOK, "GET", "images/", nil); r.num("count") != 0 {
		t.Fatalf("org b lists org a's image: %s", r.raw)
	}
	a.must(http.StatusOK, "GET", "images/"+id+"/", nil)
}

func TestRoutes(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{})
	id := a.createImage("img", "1")
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/"+id, nil)
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/not-a-uuid/", nil)
	a.fails(http.StatusNotFound, "", "Not found", "PATCH", "images/"+id+"/explode/", nil)
	a.fails(http.StatusNotFound, "", "Not found", "GET", "simulations/", nil)
	a.fails(http.StatusMethodNotAllowed, "", `"PUT" not allowed`, "PUT", "images/"+id+"/", map[string]any{})
	a.fails(http.StatusMethodNotAllowed, "", `"GET" not allowed`, "GET", "images/"+id+"/start-upload/", nil)
	a.fails(http.StatusMethodNotAllowed, "", `"DELETE" not allowed`, "DELETE", "images/", nil)
	a.fails(http.StatusBadRequest, "VALIDATION", "JSON parse error", "POST", "images/", rawBody("{"))
	a.fails(http.StatusBadRequest, "VALIDATION", "Expected a dictionary", "POST", "images/", []any{1})

	// A body without the JSON media type is not read; an empty one needs none.
	req, _ := http.NewRequest(http.MethodPatch, a.base+"images/"+id+"/", strings.NewReader(`{"notes":"x"}`))
	req.Header.Set("Authorization", "Bearer token-a")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPatch, a.base+"images/"+id+"/", nil)
	req.Header.Set("Authorization", "Bearer token-a")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH without a body: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestCreateImage(t *testing.T) {
	_, a, b := startTwoOrgs(t, Options{})
	r := a.must(http.StatusCreated, "POST", "images/", map[string]any{
		"name": "cumulus-vx", "version": "5.9.1", "default_username": "cumulus", "default_password": "Cumu1usLinux!",
		"cpu_arch": "ARM", "provider": "CONTAINER", "emulation_type": []string{"ONIE", "CUMULUS"},
		"emulation_version": "5.9", "minimum_resources": map[string]any{"cpu": 2, "memory": 2048, "storage": 20},
		"mountpoint": "/mnt/x", "includes_air_agent": true, "notes": "n", "release_notes": nil,
		"upload_status": "COMPLETE", "hash": "ignored",
	})
	if got := keys(r.body); !slices.Equal(got, slices.Sorted(slices.Values(imageKeys))) {
		t.Fatalf("image keys:\n got %v\nwant %v", got, imageKeys)
	}
	want := map[string]any{
		"name": "cumulus-vx", "version": "5.9.1", "default_username": "cumulus", "default_password": "Cumu1usLinux!",
		"cpu_arch": "ARM", "provider": "CONTAINER", "emulation_version": "5.9", "mountpoint": "/mnt/x",
		"includes_air_agent": true, "notes": "n", "release_notes": nil, "user_manual": "", "published": false,
		"publicly_published": false, "is_owned_by_client": true, "upload_status": "READY", "hash": "",
		"size": float64(0), "last_uploaded_at": nil, "creator": "user@a.example.com",
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r.body[k], v)
		}
	}
	if fmt.Sprint(r.body["emulation_type"]) != "[ONIE CUMULUS]" || fmt.Sprint(r.body["minimum_resources"]) != "map[cpu:2 memory:2048 storage:20]" {
		t.Errorf("emulation_type %v, minimum_resources %v", r.body["emulation_type"], r.body["minimum_resources"])
	}
	for _, k := range []string{"created", "modified"} {
		if !timestampRE.MatchString(r.str(k)) {
			t.Errorf("%s = %q is not RFC 3339 with 6 fractional digits", k, r.str(k))
		}
	}
	if !isUUID(r.str("id")) {
		t.Errorf("id %q is not a UUID", r.str("id"))
	}

	// The documented defaults.
	d := a.must(http.StatusOK, "GET", "images/"+a.createImage("plain", "1")+"/", nil)
	if fmt.Sprintf("%v %v %v %q %v %v %v", d.body["cpu_arch"], d.body["provider"], d.body["emulation_type"], d.body["emulation_version"],
		d.body["minimum_resources"], d.body["mountpoint"], d.body["includes_air_agent"]) != `x86 VM [] "" map[cpu:1 memory:1024 storage:10] <nil> false` {
		t.Errorf("defaults: %s", d.raw)
	}

	for _, missing := range []string{"name", "version", "default_username", "default_password"} {
		body := map[string]any{"name": "n", "version": "v", "default_username": "u", "default_password": "p"}
		delete(body, missing)
		a.fails(http.StatusBadRequest, "VALIDATION", missing+": This field is required.", "POST", "images/", body)
	}
	bad := []struct {
		field string
		value any
		msg   string
	}{
		{"name", "", "may not be blank"},
		{"name", strings.Repeat("n", 129), "no more than 128 characters"},
		{"version", strings.Repeat("v", 65), "no more than 64 characters"},
		{"default_password", strings.Repeat("p", 65), "no more than 64 characters"},
		{"name", nil, "may not be null"},
		{"name", 5, "Not a valid string"},
		{"cpu_arch", "mips", "not a valid choice"},
		{"provider", "KVM", "not a valid choice"},
		{"includes_air_agent", "yes", "valid boolean"},
		{"emulation_type", "ONIE", "list of strings"},
		{"minimum_resources", map[string]any{"cpu": 1, "memory": 1}, "minimum_resources.storage: This field is required"},
		{"minimum_resources", map[string]any{"cpu": 0, "memory": 1, "storage": 1}, "greater than or equal to 1"},
		{"minimum_resources", 4, "Expected a dictionary"},
	}
	for _, tc := range bad {
		body := map[string]any{"name": "n", "version": "v", "default_username": "u", "default_password": "p"}
		body[tc.field] = tc.value
		a.fails(http.StatusBadRequest, "VALIDATION", tc.msg, "POST", "images/", body)
	}

	a.fails(http.StatusBadRequest, "VALIDATION", "The fields name, version must make a unique set.", "POST", "images/",
		map[string]any{"name": "cumulus-vx", "version": "5.9.1", "default_username": "u", "default_password": "p"})
	// Unique per org only.
	b.createImage("cumulus-vx", "5.9.1")
	a.createImage("cumulus-vx", "5.9.2")
}

func TestPatchImage(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{})
	id := a.createImage("img", "1")
	a.createImage("img", "2")
	before := a.must(http.StatusOK, "GET", "images/"+id+"/", nil)
	r := a.must(http.StatusOK, "PATCH", "images/"+id+"/", map[string]any{"notes": "hello", "emulation_type": []string{"ONIE"}, "mountpoint": nil})
	for k, v := range before.body {
		switch k {
		case "notes", "emulation_type", "modified":
		default:
			if fmt.Sprint(r.body[k]) != fmt.Sprint(v) {
				t.Errorf("PATCH of other fields changed %s: %v -> %v", k, v, r.body[k])
			}
		}
	}
	if r.str("notes") != "hello" || fmt.Sprint(r.body["emulation_type"]) != "[ONIE]" || r.str("modified") == before.str("modified") {
		t.Fatalf("PATCH: %s", r.raw)
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "must make a unique set", "PATCH", "images/"+id+"/", map[string]any{"version": "2"})
	a.fails(http.StatusBadRequest, "VALIDATION", "not a valid choice", "PATCH", "images/"+id+"/", map[string]any{"version": "3", "provider": "x"})
	if got := a.must(http.StatusOK, "GET", "images/"+id+"/", nil); got.str("version") != "1" {
		t.Fatalf("a refused PATCH changed the image: %s", got.raw)
	}
	a.must(http.StatusOK, "PATCH", "images/"+id+"/", map[string]any{"name": "renamed", "version": "2"})
}

func TestDeleteImage(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{})
	id := a.createImage("img", "1")
	s.SetProtected(id, true)
	r := a.fails(http.StatusBadRequest, "PROTECTED", "may not be deleted", "DELETE", "images/"+id+"/", map[string]any{})
	if _, ok := r.body["protected_instances"].([]any); !ok {
		t.Fatalf("PROTECTED without protected_instances: %s", r.raw)
	}
	s.SetProtected(id, false)
	r = a.must(http.StatusNoContent, "DELETE", "images/"+id+"/", map[string]any{})
	if len(r.raw) != 0 {
		t.Fatalf("204 with a body: %s", r.raw)
	}
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/"+id+"/", nil)
	a.fails(http.StatusNotFound, "", "Not found", "DELETE", "images/"+id+"/", map[string]any{})
	s.SetProtected("*", true)
	a.fails(http.StatusBadRequest, "PROTECTED", "may not be deleted", "DELETE", "images/"+a.createImage("other", "1")+"/", map[string]any{})
}

func TestListPagination(t *testing.T) {
	_, a, b := startTwoOrgs(t, Options{})
	var want []string
	for i := range 7 {
		want = append(want, a.createImage(fmt.Sprintf("img-%d", i), "1"))
	}
	b.createImage("img-b", "1")
	r := a.must(http.StatusOK, "GET", "images/?limit=3&name=", nil)
	if r.num("count") != 0 {
		t.Fatalf("an empty name filter matched: %s", r.raw)
	}
	var got []string
	next := a.base + "images/?limit=3&ordering=created"
	pages := 0
	for next != "" {
		r := a.must(http.StatusOK, "GET", next, nil)
		pages++
		if r.num("count") != 7 {
			t.Fatalf("count: %s", r.raw)
		}
		for _, it := range r.objects("results") {
			got = append(got, str(it, "id"))
		}
		next = r.str("next")
		if next != "" && !strings.HasPrefix(next, "http://127.0.0.1:") {
			t.Fatalf("next %q is not absolute", next)
		}
		if next != "" && !strings.Contains(next, "ordering=created") {
			t.Fatalf("next %q dropped the ordering", next)
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages: %v, want %v", pages, got, want)
	}
	r = a.must(http.StatusOK, "GET", "images/?limit=3&offset=3", nil)
	if r.str("previous") != a.base+"images/?limit=3" || r.str("next") != a.base+"images/?limit=3&offset=6" {
		t.Fatalf("links: previous %q next %q", r.str("previous"), r.str("next"))
	}
	r = a.must(http.StatusOK, "GET", "images/?limit=3&offset=5", nil)
	if r.str("previous") != a.base+"images/?limit=3&offset=2" || r.body["next"] != nil {
		t.Fatalf("links: previous %q next %v", r.str("previous"), r.body["next"])
	}
	if r := a.must(http.StatusOK, "GET", "images/?offset=100", nil); len(r.objects("results")) != 0 || r.body["next"] != nil {
		t.Fatalf("past the end: %s", r.raw)
	}
}

func TestListFilters(t *testing.T) {
	s, a, _ := startTwoOrgs(t, Options{ChunkSize: 1 << 20})
	done := a.createImage("Alpha", "1.0")
	a.upload(done, randomData(1000), 1)
	a.createImage("alpha", "2.0")
	a.createImage("beta", "1.0")
	hash := sha256hex(randomData(1000))
	names := func(query string) string {
		t.Helper()
		r := a.must(http.StatusOK, "GET", "images/?"+query, nil)
		var out []string
		for _, it := range r.objects("results") {
			out = append(out, str(it, "name")+"@"+str(it, "version"))
		}
		return strings.Join(out, ",")
	}
	for query, want := range map[string]string{
		"name=alpha":                         "alpha@2.0",
		"version=1.0&ordering=name":          "Alpha@1.0,beta@1.0",
		"search=ALP&ordering=-version":       "alpha@2.0,Alpha@1.0",
		"search=2.0":                         "alpha@2.0",
		"upload_status=COMPLETE":             "Alpha@1.0",
		"upload_status=READY&ordering=-name": "beta@1.0,alpha@2.0",
		"hash=" + hash:                       "Alpha@1.0",
		"published=False&ordering=created":   "Alpha@1.0,alpha@2.0,beta@1.0",
		"published=True":                     "",
		"published=false&name=beta":          "beta@1.0",
		"is_owned_by_client=True&name=beta":  "beta@1.0",
		"ordering=nonsense,-name":            "beta@1.0,alpha@2.0,Alpha@1.0",
		"unknown=1&name=beta":                "beta@1.0",
	} {
		if got := names(query); got != want {
			t.Errorf("?%s: %q, want %q", query, got, want)
		}
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "published: Select a valid choice. maybe", "GET", "images/?published=maybe", nil)
	a.fails(http.StatusBadRequest, "VALIDATION", "upload_status: Select a valid choice", "GET", "images/?upload_status=DONE", nil)
	if len(s.Images("a")) != 3 || len(s.Images("b")) != 0 || len(s.Images("")) != 3 {
		t.Fatalf("Images: %v", s.Images(""))
	}
}
