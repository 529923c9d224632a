package incus

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
)

type entry struct{ name, body string }

func tarOf(t *testing.T, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// The mark goes in the properties header only where the daemon has a properties
// map to write it into: a metadata.yaml without one makes the daemon panic.
func TestPropertiesMapped(t *testing.T) {
	const arch = "architecture: x86_64\ncreation_date: 1700000000\n"
	rootfs := entry{"rootfs/etc/hostname", "x\n"}
	for name, tc := range map[string]struct {
		entries        []entry
		gz, unified    bool
		whole, partial bool // what to expect with head whole, and cut right after the entries
	}{
		"properties":                {entries: []entry{{"metadata.yaml", arch + "properties:\n  os: busybox\n"}, rootfs}, gz: true, unified: true, whole: true, partial: true},
		"empty properties":          {entries: []entry{{"./metadata.yaml", arch + "properties: {}\n"}, rootfs}, unified: true, whole: true, partial: true},
		"flow mapping":              {entries: []entry{{"metadata.yaml", `{"architecture": "x86_64", "creation_date": 1, "properties": {"os": "x"}}`}, rootfs}, gz: true, unified: true, whole: true, partial: true},
		"no properties":             {entries: []entry{{"metadata.yaml", arch}, rootfs}, gz: true, unified: true},
		"null properties":           {entries: []entry{{"metadata.yaml", arch + "properties:\n"}, rootfs}, unified: true},
		"properties a list":         {entries: []entry{{"metadata.yaml", arch + "properties: [a]\n"}, rootfs}, unified: true},
		"properties twice":          {entries: []entry{{"metadata.yaml", arch + "properties: {a: b}\nproperties: ~\n"}, rootfs}, unified: true},
		"merge key":                 {entries: []entry{{"metadata.yaml", "base: &b {properties: {a: b}}\n<<: *b\nproperties: {c: d}\n"}, rootfs}, unified: true},
		"second metadata.yaml bare": {entries: []entry{{"metadata.yaml", arch + "properties: {a: b}\n"}, {"./metadata.yaml", arch}, rootfs}, unified: true},
		"metadata.yaml after the rootfs is not read": {
			entries: []entry{{"metadata.yaml", arch + "properties: {a: b}\n"}, rootfs, {"./metadata.yaml", arch}}, unified: true, whole: true, partial: true},
		"split metadata read to its end": {entries: []entry{{"metadata.yaml", arch + "properties: {a: b}\n"}, {"templates/x.tpl", "x"}, {"./metadata.yaml", arch}}},
		"split metadata":                 {entries: []entry{{"metadata.yaml", arch + "properties: {a: b}\n"}, {"templates/x.tpl", "x"}}, gz: true, whole: true},
		"no metadata.yaml":               {entries: []entry{rootfs}, unified: true},
	} {
		head := tarOf(t, tc.gz, tc.entries...)
		if got := propertiesMapped(head, true, tc.unified); got != tc.whole {
			t.Errorf("%s: whole: got %t, want %t", name, got, tc.whole)
		}
		if !tc.gz {
			// Cut past the entries' headers and bodies, before the end of the
			// archive: a head that stops there tells nothing of what follows.
			cut := head[:len(head)-1024]
			if got := propertiesMapped(cut, false, tc.unified); got != tc.partial {
				t.Errorf("%s: cut: got %t, want %t", name, got, tc.partial)
			}
		}
	}
	if propertiesMapped([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, true, true) {
		t.Error("an xz tarball cannot be read here, so it must go unmarked")
	}
}
