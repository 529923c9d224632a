package transfer

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// incusArchitectures maps the names of an architecture that Incus and LXD accept
// (their own, which Glance's hw_architecture also uses, and their aliases, which cover
// Go's GOARCH and Debian's names) to the one they report.
var incusArchitectures = map[string]string{}

func init() {
	for name, aliases := range map[string][]string{
		"i686":        {"i386", "i586", "386", "x86"},
		"x86_64":      {"amd64"},
		"armv6l":      {"armel", "arm"},
		"armv7l":      {"armhf", "armhfp", "armv7"},
		"armv8l":      nil,
		"aarch64":     {"arm64"},
		"ppc":         {"powerpc"},
		"ppc64":       {"powerpc64"},
		"ppc64le":     {"ppc64el"},
		"s390x":       nil,
		"mips":        {"mipsel", "mipsle"},
		"mips64":      {"mips64el", "mips64le"},
		"riscv32":     nil,
		"riscv64":     nil,
		"loongarch64": {"loong64"},
	} {
		incusArchitectures[name] = name
		for _, a := range aliases {
			incusArchitectures[a] = name
		}
	}
}

// IncusArchitecture is the name Incus and LXD give the architecture called name
// (x86_64 for amd64, aarch64 for arm64, ...); ok is false for a name they do not know.
func IncusArchitecture(name string) (incusName string, ok bool) {
	incusName, ok = incusArchitectures[strings.ToLower(strings.TrimSpace(name))]
	return incusName, ok
}

// IncusArchitectures lists the Incus names of the architectures, sorted.
func IncusArchitectures() []string {
	return slices.Compact(slices.Sorted(maps.Values(incusArchitectures)))
}

// VMMetadata is the metadata tarball of a virtual-machine image made from a bare disk:
// one metadata.yaml holding the architecture (by its Incus name), creation_date
// (created, in Unix seconds) and the properties.
//
// The same inputs give the same bytes, so the Incus fingerprint (the sha256 of this
// tarball then the disk) stays the same from one run to the next and an upload can be
// recognised as one already made. Hence: an uncompressed ustar archive (a compressor's
// output may change between Go releases), fixed owner, mode and modification time
// (created), and the properties in sorted order.
func VMMetadata(arch string, created time.Time, props map[string]string) ([]byte, error) {
	name, ok := IncusArchitecture(arch)
	if !ok {
		return nil, fmt.Errorf("architecture %q is not one Incus and LXD know: use one of %s", arch, strings.Join(IncusArchitectures(), ", "))
	}
	if created.Unix() < 0 {
		return nil, fmt.Errorf("creation date %s is before 1970", created.UTC().Format(time.RFC3339))
	}
	var yaml bytes.Buffer
	fmt.Fprintf(&yaml, "architecture: %s\ncreation_date: %d\n", quote(name), created.Unix())
	if len(props) > 0 {
		yaml.WriteString("properties:\n")
		for _, k := range slices.Sorted(maps.Keys(props)) {
			key := quote(k)
			if len(key) > 1000 {
				// YAML allows an implicit key of 1024 characters at most; a longer
				// one takes the explicit form.
				fmt.Fprintf(&yaml, "  ? %s\n  : %s\n", key, quote(props[k]))
				continue
			}
			fmt.Fprintf(&yaml, "  %s: %s\n", key, quote(props[k]))
		}
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: "metadata.yaml", Size: int64(yaml.Len()), Mode: 0o644,
		ModTime: time.Unix(created.Unix(), 0), Format: tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing the image metadata: %w", err)
	}
	if _, err := tw.Write(yaml.Bytes()); err != nil {
		return nil, fmt.Errorf("writing the image metadata: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the image metadata: %w", err)
	}
	return out.Bytes(), nil
}

// quote writes s as a YAML double-quoted scalar. A JSON string is one: its escapes
// are a subset of YAML's, so any key or value reads back as the same string.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	// JSON leaves DEL and the C1 controls as they are, which YAML refuses in a
	// document: escape them too (YAML's double quotes read JSON's \u escapes).
	var out strings.Builder
	for _, r := range strings.TrimSuffix(b.String(), "\n") {
		if r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xfffe || r == 0xffff {
			fmt.Fprintf(&out, "\\u%04x", r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}
