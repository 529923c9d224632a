package airemu

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPublishUnpublish(t *testing.T) {
	s, a, b := startTwoOrgs(t, Options{ChunkSize: testChunk})
	s.SetTransitionDelay(200 * time.Millisecond)
	id := a.createImage("img", "1")
	a.createImage("taken", "1")
	a.fails(http.StatusBadRequest, "VALIDATION", "COMPLETE can be published; this one is READY", "PATCH", "images/"+id+"/publish/", map[string]any{})
	a.upload(id, randomData(1000), 1)
	a.fails(http.StatusBadRequest, "VALIDATION", "already unpublished", "PATCH", "images/"+id+"/unpublish/", map[string]any{})
	a.fails(http.StatusBadRequest, "VALIDATION", "must make a unique set", "PATCH", "images/"+id+"/publish/", map[string]any{"name": "taken"})

	r := a.must(http.StatusOK, "PATCH", "images/"+id+"/publish/", map[string]any{"name": "public-img", "version": "2"})
	if r.str("upload_status") != StatusPublishing || r.str("name") != "public-img" || r.str("version") != "2" || r.body["published"] != false {
		t.Fatalf("publish answered %s", r.raw)
	}
	r = a.waitStatus(id, StatusComplete)
	if r.body["published"] != true || r.body["publicly_published"] != true {
		t.Fatalf("after PUBLISHING: %s", r.raw)
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "already published", "PATCH", "images/"+id+"/publish/", map[string]any{})
	a.fails(http.StatusBadRequest, "VALIDATION", "published image cannot be cleared", "PATCH", "images/"+id+"/clear-upload/", map[string]any{})

	// Another org sees the published image but cannot change it.
	r = b.must(http.StatusOK, "GET", "images/?published=True", nil)
	if r.num("count") != 1 || r.objects("results")[0]["is_owned_by_client"] != false {
		t.Fatalf("org b's list of published images: %s", r.raw)
	}
	if r := b.must(http.StatusOK, "GET", "images/?is_owned_by_client=True", nil); r.num("count") != 0 {
		t.Fatalf("org b owns: %s", r.raw)
	}
	b.must(http.StatusOK, "GET", "images/"+id+"/", nil)
	b.fails(http.StatusForbidden, "", "permission", "PATCH", "images/"+id+"/", map[string]any{"notes": "x"})
	b.fails(http.StatusForbidden, "", "permission", "DELETE", "images/"+id+"/", map[string]any{})
	b.fails(http.StatusForbidden, "", "permission", "PATCH", "images/"+id+"/unpublish/", map[string]any{})
	b.createImage("public-img", "2") // names are unique per org

	r = a.must(http.StatusOK, "PATCH", "images/"+id+"/unpublish/", map[string]any{"version": "3"})
	if r.str("upload_status") != StatusUnpublishing || r.str("version") != "3" {
		t.Fatalf("unpublish answered %s", r.raw)
	}
	r = a.waitStatus(id, StatusComplete)
	if r.body["published"] != false || r.body["publicly_published"] != false {
		t.Fatalf("after UNPUBLISHING: %s", r.raw)
	}
	b.fails(http.StatusNotFound, "", "Not found", "GET", "images/"+id+"/", nil)

	// prefer_public false publishes to no other org here (the real allow-list
	// names org UUIDs the emulator does not have).
	s.SetTransitionDelay(0)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/publish/", map[string]any{"prefer_public": false})
	r = a.waitStatus(id, StatusComplete)
	if r.body["published"] != true || r.body["publicly_published"] != false {
		t.Fatalf("restricted publish: %s", r.raw)
	}
	b.fails(http.StatusNotFound, "", "Not found", "GET", "images/"+id+"/", nil)
}

var shareKeys = []string{
	"claimed_by", "created", "expires_at", "id", "image", "image_name", "image_version", "modified",
	"source_org_display_name", "state", "target_org", "target_org_display_name",
}

func TestShareAndClaim(t *testing.T) {
	s, a, b := startTwoOrgs(t, Options{ChunkSize: testChunk, TransitionDelay: 200 * time.Millisecond})
	id := a.createImage("img", "1")
	data := randomData(2*testChunk + 3)
	a.fails(http.StatusBadRequest, "VALIDATION", "Only an image with upload_status COMPLETE can be shared", "POST", "images/shares/", map[string]any{"image": id, "target_org": "b"})
	a.upload(id, data, 2)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/", map[string]any{"notes": "shared notes", "cpu_arch": "ARM"})

	for _, tc := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{"target_org": "b"}, "image: This field is required"},
		{map[string]any{"image": id}, "target_org: This field is required"},
		{map[string]any{"image": id, "target_org": "a"}, "must be different from your organization"},
		{map[string]any{"image": id, "target_org": "nobody"}, `Organization "nobody" was not found`},
		{map[string]any{"image": id, "target_org": ""}, "target_org: This field may not be blank"},
		{map[string]any{"image": newUUID(), "target_org": "b"}, "object does not exist"},
		{map[string]any{"image": id, "target_org": "b", "expires_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}, "must be in the future"},
		{map[string]any{"image": id, "target_org": "b", "expires_at": "tomorrow"}, "Datetime has wrong format"},
	} {
		a.fails(http.StatusBadRequest, "VALIDATION", tc.msg, "POST", "images/shares/", tc.body)
	}
	// Org b cannot share org a's image.
	b.fails(http.StatusBadRequest, "VALIDATION", "object does not exist", "POST", "images/shares/", map[string]any{"image": id, "target_org": "a"})

	r := a.must(http.StatusCreated, "POST", "images/shares/", map[string]any{"image": id, "target_org": "b"})
	if got := keys(r.body); !slices.Equal(got, shareKeys) {
		t.Fatalf("share keys %v, want %v", got, shareKeys)
	}
	shareID := r.str("id")
	expires, err := time.Parse(time.RFC3339Nano, r.str("expires_at"))
	if err != nil || !timestampRE.MatchString(r.str("expires_at")) || time.Until(expires) < 23*time.Hour || time.Until(expires) > 25*time.Hour {
		t.Fatalf("default expiry %q (%v)", r.str("expires_at"), err)
	}
	want := map[string]any{
		"image": id, "image_name": "img", "image_version": "1", "source_org_display_name": "a",
		"target_org_display_name": "b", "target_org": "b", "claimed_by": "", "state": ShareActive,
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("share %s = %#v, want %#v", k, r.body[k], v)
		}
	}
	// expires_at as the SDK writes it: UTC with a Z and microseconds.
	sdkExpiry := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z")
	second := a.must(http.StatusCreated, "POST", "images/shares/", map[string]any{"image": id, "target_org": "b", "expires_at": sdkExpiry})
	if second.str("expires_at") != sdkExpiry {
		t.Fatalf("expires_at %q, sent %q", second.str("expires_at"), sdkExpiry)
	}

	// The source org lists and reads its shares; the target knows only the id.
	if r := a.must(http.StatusOK, "GET", "images/shares/?ordering=created", nil); r.num("count") != 2 || r.objects("results")[0]["id"] != shareID {
		t.Fatalf("org a's shares: %s", r.raw)
	}
	if r := a.must(http.StatusOK, "GET", "images/shares/?image="+id+"&limit=1", nil); r.num("count") != 2 || !strings.HasPrefix(r.str("next"), "http://") {
		t.Fatalf("org a's shares of the image: %s", r.raw)
	}
	for query, count := range map[string]float64{
		"target_org=b": 2, "target_org=a": 0, "target_org_display_name=b": 2, "source_org_display_name=a": 2,
		"source_org_display_name=b": 0, "state=ACTIVE": 2, "state=CLAIMED": 0, "state=EXPIRED": 0, "search=B": 2,
		"image=" + id + "&target_org=b&state=ACTIVE": 2,
	} {
		if r := a.must(http.StatusOK, "GET", "images/shares/?"+query, nil); r.num("count") != count {
			t.Fatalf("shares ?%s: %s", query, r.raw)
		}
	}
	a.fails(http.StatusBadRequest, "VALIDATION", "state: Select a valid choice", "GET", "images/shares/?state=active", nil)
	a.must(http.StatusOK, "GET", "images/shares/"+shareID+"/", nil)
	if r := b.must(http.StatusOK, "GET", "images/shares/", nil); r.num("count") != 0 {
		t.Fatalf("org b lists org a's shares: %s", r.raw)
	}
	b.fails(http.StatusNotFound, "", "Not found", "GET", "images/shares/"+shareID+"/", nil)
	b.fails(http.StatusNotFound, "", "Not found", "DELETE", "images/shares/"+shareID+"/", map[string]any{})

	// Claims.
	a.fails(http.StatusBadRequest, "VALIDATION", "not found for your organization", "POST", "images/claim-image-share/", map[string]any{"image_share": shareID})
	b.fails(http.StatusBadRequest, "VALIDATION", "image_share: This field is required", "POST", "images/claim-image-share/", map[string]any{})
	b.fails(http.StatusBadRequest, "VALIDATION", "not found for your organization", "POST", "images/claim-image-share/", map[string]any{"image_share": newUUID()})
	b.createImage("img", "1")
	b.fails(http.StatusBadRequest, "VALIDATION", "must make a unique set", "POST", "images/claim-image-share/", map[string]any{"image_share": shareID})
	b.fails(http.StatusBadRequest, "VALIDATION", "no more than 64 characters", "POST", "images/claim-image-share/", map[string]any{"image_share": shareID, "version": strings.Repeat("v", 65)})

	r = b.must(http.StatusCreated, "POST", "images/claim-image-share/", map[string]any{"image_share": shareID, "version": "claimed"})
	claimed := r.str("id")
	if r.str("upload_status") != StatusCopying || r.str("name") != "img" || r.str("version") != "claimed" ||
		r.str("notes") != "shared notes" || r.str("cpu_arch") != "ARM" || r.body["is_owned_by_client"] != true ||
		r.str("creator") != "user@b.example.com" || r.str("hash") != sha256hex(data) || claimed == id {
		t.Fatalf("claim answered %s", r.raw)
	}
	if got := keys(r.body); !slices.Equal(got, slices.Sorted(slices.Values(imageKeys))) {
		t.Fatalf("claimed image keys %v", got)
	}
	r = b.waitStatus(claimed, StatusComplete)
	if !timestampRE.MatchString(r.str("last_uploaded_at")) {
		t.Fatalf("claimed image: %s", r.raw)
	}
	if size, sum, err := s.ContentSHA256(claimed); err != nil || size != int64(len(data)) || sum != sha256hex(data) {
		t.Fatalf("claimed content: %d %s %v", size, sum, err)
	}
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/"+claimed+"/", nil)
	r = a.must(http.StatusOK, "GET", "images/shares/"+shareID+"/", nil)
	if r.str("state") != ShareClaimed || r.str("claimed_by") != "user@b.example.com" {
		t.Fatalf("claimed share: %s", r.raw)
	}
	if r := a.must(http.StatusOK, "GET", "images/shares/?claimed_by=user@b.example.com", nil); r.num("count") != 1 {
		t.Fatalf("claimed_by filter: %s", r.raw)
	}
	b.fails(http.StatusBadRequest, "VALIDATION", "Only ACTIVE image shares may be claimed; this one is CLAIMED", "POST", "images/claim-image-share/", map[string]any{"image_share": shareID, "version": "again"})
	a.fails(http.StatusBadRequest, "VALIDATION", "Image shares in the CLAIMED state cannot be deleted.", "DELETE", "images/shares/"+shareID+"/", map[string]any{})

	// The copy outlives its source.
	a.must(http.StatusNoContent, "DELETE", "images/"+id+"/", map[string]any{})
	if _, _, err := s.ContentSHA256(claimed); err != nil {
		t.Fatalf("deleting the source took the claimed copy's data: %v", err)
	}
	// Deleting an image deletes its shares.
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/shares/"+second.str("id")+"/", nil)
	if len(s.Shares()) != 0 {
		t.Fatalf("shares left: %+v", s.Shares())
	}
}

func TestShareRules(t *testing.T) {
	s, a, b := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	a.upload(id, randomData(500), 1)
	newShare := func() string {
		return a.must(http.StatusCreated, "POST", "images/shares/", map[string]any{"image": id, "target_org": "b"}).str("id")
	}

	// Delete.
	del := newShare()
	r := a.must(http.StatusNoContent, "DELETE", "images/shares/"+del+"/", map[string]any{})
	if len(r.raw) != 0 {
		t.Fatalf("204 with a body: %s", r.raw)
	}
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/shares/"+del+"/", nil)
	b.fails(http.StatusBadRequest, "VALIDATION", "not found for your organization", "POST", "images/claim-image-share/", map[string]any{"image_share": del})

	// An expired share is cleaned up at once by default...
	gone := newShare()
	if !s.ExpireShare(gone) || s.ExpireShare(newUUID()) {
		t.Fatal("ExpireShare")
	}
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/shares/"+gone+"/", nil)
	b.fails(http.StatusBadRequest, "VALIDATION", "not found for your organization", "POST", "images/claim-image-share/", map[string]any{"image_share": gone})

	// ...or, with a clean-up delay, stays ACTIVE with a past expiry, unclaimable.
	s.SetShareCleanupDelay(time.Hour)
	late := newShare()
	s.ExpireShare(late)
	r = a.must(http.StatusOK, "GET", "images/shares/"+late+"/", nil)
	if expires, _ := time.Parse(time.RFC3339Nano, r.str("expires_at")); r.str("state") != ShareActive || !expires.Before(time.Now()) {
		t.Fatalf("expired share in its clean-up delay: %s", r.raw)
	}
	b.fails(http.StatusBadRequest, "VALIDATION", "has expired", "POST", "images/claim-image-share/", map[string]any{"image_share": late})
	s.SetShareCleanupDelay(0)

	// A share of an image no longer COMPLETE cannot be claimed.
	stale := newShare()
	a.must(http.StatusOK, "PATCH", "images/"+id+"/clear-upload/", map[string]any{})
	b.fails(http.StatusBadRequest, "VALIDATION", "no longer COMPLETE", "POST", "images/claim-image-share/", map[string]any{"image_share": stale})
	a.upload(id, randomData(500), 1)

	// A published image cannot be shared.
	s.SetTransitionDelay(0)
	a.must(http.StatusOK, "PATCH", "images/"+id+"/publish/", map[string]any{})
	a.waitStatus(id, StatusComplete)
	a.fails(http.StatusBadRequest, "VALIDATION", "published image cannot be shared", "POST", "images/shares/", map[string]any{"image": id, "target_org": "b"})
	a.must(http.StatusOK, "PATCH", "images/"+id+"/unpublish/", map[string]any{})
	a.waitStatus(id, StatusComplete)

	// DeleteClaimedShares: the share goes once the copy completes.
	s.SetDeleteClaimedShares(true)
	claimedShare := newShare()
	claimed := b.must(http.StatusCreated, "POST", "images/claim-image-share/", map[string]any{"image_share": claimedShare}).str("id")
	b.waitStatus(claimed, StatusComplete)
	a.fails(http.StatusNotFound, "", "Not found", "GET", "images/shares/"+claimedShare+"/", nil)
	for _, sh := range s.Shares() {
		if sh.ID == claimedShare {
			t.Fatalf("Shares() still has the claimed share: %+v", sh)
		}
	}
}
