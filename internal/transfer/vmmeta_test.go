package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVMMetadataIsDeterministic builds the metadata twice from the same inputs, with
// the properties in another map order: the bytes must be the same, so the image's
// fingerprint is.
func TestVMMetadataIsDeterministic(t *testing.T) {
	created := time.Date(2026, 11, 28, 9, 30, 15, 123456789, time.FixedZone("x", 3600))
	props := map[string]string{}
	other := map[string]string{}
	for i := range 50 {
		props["k"+strconv.Itoa(i)] = "v"
	}
	for i := 49; i >= 0; i-- {
		other["k"+strconv.Itoa(i)] = "v"
	}
	a, err := VMMetadata("amd64", created, props)
	if err != nil {
		t.Fatal(err)
	}
	b, err := VMMetadata("x86_64", created.UTC().Truncate(time.Second), other)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the same inputs gave different metadata tarballs")
	}
	c, err := VMMetadata("x86_64", created.Add(time.Second), props)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("another creation date gave the same metadata")
	}
}

// TestVMMetadataReadsBack parses the tarball back: one metadata.yaml with fixed owner,
// mode and time, whose values read back exactly, however odd the properties.
func TestVMMetadataReadsBack(t *testing.T) {
	created := time.Unix(1764322215, 0)
	props := map[string]string{
		"description": `Debian "bookworm": <amd64> & more`,
		"multi":       "line one\nline two\ttab \\ backslash",
		"unicode":     "é ✓ \u2028",
		"key: colon":  "# not a comment",
		"empty":       "",
	}
	raw, err := VMMetadata("arm64", created, props)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "metadata.yaml" || hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o644 || hdr.Uid != 0 || hdr.Gid != 0 ||
		hdr.Uname != "" || hdr.Gname != "" || !hdr.ModTime.Equal(created) || hdr.Format != tar.FormatUSTAR {
		t.Fatalf("header %+v", hdr)
	}
	body, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("a second entry: %v", err)
	}
	// The values are written as JSON strings, which YAML reads as double-quoted
	// scalars; the daemons' YAML parser reads them in the acceptance tests.
	got := map[string]string{}
	var arch, date string
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "architecture: "):
			arch = unquote(t, strings.TrimPrefix(line, "architecture: "))
		case strings.HasPrefix(line, "creation_date: "):
			date = strings.TrimPrefix(line, "creation_date: ")
		case line == "properties:":
		case strings.HasPrefix(line, "  "):
			var k, v string
			dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(line, "  ")))
			if err := dec.Decode(&k); err != nil {
				t.Fatalf("key of %q: %v", line, err)
			}
			rest, _ := io.ReadAll(dec.Buffered())
			v = unquote(t, strings.TrimPrefix(string(rest), ": "))
			got[k] = v
		default:
			t.Fatalf("unexpected line %q in\n%s", line, body)
		}
	}
	if arch != "aarch64" || date != "1764322215" {
		t.Fatalf("architecture %q, creation_date %q in\n%s", arch, date, body)
	}
	if len(got) != len(props) {
		t.Fatalf("properties %q, want %q", got, props)
	}
	for k, v := range props {
		if got[k] != v {
			t.Fatalf("property %q is %q, want %q", k, got[k], v)
		}
	}
	// What Inspect accepts as a metadata tarball.
	p := filepath.Join(t.TempDir(), "meta.tar")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(context.Background(), p, "", false); err != nil {
		t.Fatal(err)
	}
}

func unquote(t *testing.T, s string) string {
	t.Helper()
	var v string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q is not a quoted string: %v", s, err)
	}
	return v
}

func TestVMMetadataRefuses(t *testing.T) {
	if _, err := VMMetadata("sparc", time.Unix(0, 0), nil); err == nil || !strings.Contains(err.Error(), `architecture "sparc" is not one Incus and LXD know: use one of aarch64, armv6l,`) {
		t.Fatalf("error %v", err)
	}
	if _, err := VMMetadata("x86_64", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), nil); err == nil {
		t.Fatal("a date before 1970 was accepted")
	}
}

func TestIncusArchitecture(t *testing.T) {
	for in, want := range map[string]string{
		"amd64": "x86_64", "x86_64": "x86_64", "ARM64": "aarch64", "aarch64": "aarch64", "386": "i686",
		"arm": "armv6l", "armhf": "armv7l", "ppc64le": "ppc64le", "ppc64el": "ppc64le", "s390x": "s390x",
		"riscv64": "riscv64", "loong64": "loongarch64", "mips64le": "mips64",
	} {
		if got, ok := IncusArchitecture(in); !ok || got != want {
			t.Errorf("%s: %q, %t; want %s", in, got, ok, want)
		}
	}
	if _, ok := IncusArchitecture("sparc64"); ok {
		t.Error("sparc64 is not an Incus architecture")
	}
}
