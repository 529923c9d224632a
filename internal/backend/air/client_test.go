package air

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The API writes timestamps with no fraction, or 3 or 6 digits of it.
func TestParseTime(t *testing.T) {
	want := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for in, frac := range map[string]time.Duration{
		`"2026-03-04T05:06:07Z"`:             0,
		`"2026-03-04T05:06:07.123Z"`:         123 * time.Millisecond,
		`"2026-03-04T05:06:07.123456Z"`:      123456 * time.Microsecond,
		`"2026-03-04T07:06:07.123456+02:00"`: 123456 * time.Microsecond,
	} {
		var got apiTime
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !got.Equal(want.Add(frac)) {
			t.Errorf("%s: got %s", in, got.Time)
		}
	}
	for _, in := range []string{`null`, `""`} {
		got := apiTime{time.Now()}
		if err := json.Unmarshal([]byte(in), &got); err != nil || !got.IsZero() {
			t.Errorf("%s: got %s (%v), want the zero time", in, got.Time, err)
		}
	}
	var bad apiTime
	if err := json.Unmarshal([]byte(`"2026-03-04 05:06"`), &bad); err == nil || !strings.Contains(err.Error(), "is not RFC 3339") {
		t.Errorf("error %v", err)
	}
}

func TestFormatTime(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	for in, want := range map[time.Time]string{
		at:                                  "2026-03-04T04:06:07Z",
		at.Add(123456789 * time.Nanosecond): "2026-03-04T04:06:07.123456Z",
		at.Add(5 * time.Millisecond):        "2026-03-04T04:06:07.005000Z",
	} {
		if got := formatTime(in); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
		if back, err := parseTime(formatTime(in)); err != nil || !back.Equal(in.Truncate(time.Microsecond)) {
			t.Errorf("%s: read back as %s (%v)", in, back, err)
		}
	}
}

func TestAPIMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"detail": "Authentication credentials were not provided."}`:                                                                    "Authentication credentials were not provided.",
		`{"name": ["This field is required."], "version": ["This field is required."]}`:                                                  "name: This field is required.; version: This field is required.",
		`{"non_field_errors": ["The fields name, version must make a unique set."]}`:                                                     "The fields name, version must make a unique set.",
		`{"detail": "Invalid token.", "request_id": "r-1"}`:                                                                              "Invalid token. (request_id r-1)",
		`{"detail": "Bad.", "type": "VALIDATION", "request_id": "r-2"}`:                                                                  "Bad. (request_id r-2)",
		`{"detail": "In use.", "type": "PROTECTED", "protected_instances": [{"id": "s"}], "request_id": "r-3"}`:                          `In use.; protected_instances: {"id":"s"}; type: PROTECTED (request_id r-3)`,
		"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>X1</RequestId></Error>": "AccessDenied: Request has expired",
		"<html><body><h1>502 Bad Gateway</h1></body></html>":                                                                             "502 Bad Gateway",
	} {
		if got := apiMessage([]byte(body)); got != want {
			t.Errorf("%s:\n got %q\nwant %q", body, got, want)
		}
	}
}

// Parts are cut as start-upload made room for them, and an answer that does not fit
// the content is refused before anything is sent.
func TestPlan(t *testing.T) {
	base, _ := url.Parse("https://air.example/api/v3/")
	c := &Client{base: base}
	answer := func(n int, chunk int64) startAnswer {
		a := startAnswer{UploadID: "u", ChunkSize: chunk}
		for i := range n {
			a.PartURLs = append(a.PartURLs, struct {
				URL string `json:"url"`
			}{URL: fmt.Sprintf("https://s3.example/p%d", i+1)})
		}
		return a
	}
	parts, err := c.plan("img", 25, answer(3, 10))
	if err != nil {
		t.Fatal(err)
	}
	want := []part{{1, 0, 10, "https://s3.example/p1"}, {2, 10, 10, "https://s3.example/p2"}, {3, 20, 5, "https://s3.example/p3"}}
	if fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Fatalf("parts %v, want %v", parts, want)
	}
	if parts, err = c.plan("img", 30, answer(3, 10)); err != nil || parts[2].size != 10 {
		t.Fatalf("exact fit: %v %v", parts, err)
	}
	relative := answer(1, 10)
	relative.PartURLs[0].URL = "/parts/1?sig=x"
	if parts, err = c.plan("img", 5, relative); err != nil || parts[0].url != "https://air.example/parts/1?sig=x" {
		t.Fatalf("a URL relative to the API: %v %v", parts, err)
	}
	for _, bad := range []startAnswer{answer(2, 10), answer(4, 10), answer(0, 10), {ChunkSize: 10, PartURLs: answer(3, 10).PartURLs}} {
		if _, err := c.plan("img", 25, bad); err == nil || !strings.Contains(err.Error(), "for 25 bytes of content") {
			t.Errorf("%+v: error %v", bad, err)
		}
	}
}
