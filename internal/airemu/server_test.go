package airemu

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, opts := range []Options{
		{},
		{Orgs: map[string]string{"a": "same", "b": "same"}},
		{Orgs: map[string]string{"a": ""}},
		{Orgs: map[string]string{"a": "t"}, ChunkSize: -1},
	} {
		if s, err := New(opts); err == nil {
			_ = s.Close()
			t.Errorf("New(%+v) accepted", opts)
		}
	}
	s, err := New(Options{Orgs: map[string]string{"b": "tb", "a": "ta"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Orgs(), []string{"a", "b"}) || s.Token("b") != "tb" || s.Token("c") != "" {
		t.Fatalf("Orgs %v, Token(b) %q", s.Orgs(), s.Token("b"))
	}
	dir := s.DataDir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Close left its temporary directory: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for in, ok := range map[string]bool{"503": true, "reset": true, "500": false} {
		if _, err := ParseFailMode(in); (err == nil) != ok {
			t.Errorf("ParseFailMode(%q): %v", in, err)
		}
	}
}

// A part whose body ends before its Content-Length is refused and not kept.
func TestIncompletePart(t *testing.T) {
	_, a, _ := startTwoOrgs(t, Options{ChunkSize: testChunk})
	id := a.createImage("img", "1")
	data := randomData(100)
	st := a.startUpload(id, data)
	u, err := url.Parse(st.urls[0])
	if err != nil {
		t.Fatal(err)
	}
	addr, err := net.ResolveTCPAddr("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte("PUT " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Length: 100\r\n\r\n" + string(data[:40]))); err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("short part: %d", resp.StatusCode)
	}
	r := a.fails(http.StatusBadRequest, "VALIDATION", "InvalidPart", "PATCH", "images/"+id+"/complete-upload/",
		map[string]any{"parts": []map[string]any{{"part_number": 1, "etag": md5hex(data[:40])}}})
	if !strings.Contains(r.str("detail"), "part 1") {
		t.Fatalf("detail: %s", r.raw)
	}
}
