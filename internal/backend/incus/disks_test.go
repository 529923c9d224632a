package incus_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/transfer"
)

// qcow2Disk writes an empty qcow2 disk with qemu-img, of a virtual size of its own
// (16 MiB and a random number of 64 KiB clusters), so no other test or earlier run
// has a disk of the same bytes.
func qcow2Disk(t *testing.T) string {
	t.Helper()
	p := filepath.Join(acctest.TempDir(t), "disk.qcow2")
	size := strconv.Itoa(16<<20 + rand.IntN(1<<14)<<16)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", p, size).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img (qemu-utils, installed by scripts/backends.sh): %v: %s", err, out)
	}
	return p
}

// diskContent opens p as a bare disk, as the image resource does: readable again
// at offsets.
func diskContent(t *testing.T, p string, created time.Time) *backend.ImageContent {
	t.Helper()
	r, ok := fileContent(t, p).Metadata.(*transfer.FileReader)
	if !ok {
		t.Fatal("fileContent gave no FileReader")
	}
	return &backend.ImageContent{Disk: r, DiskFormat: "qcow2", CreatedAt: created, Size: r.Size(), At: r}
}

// hostArch is the architecture the daemons report first: the machine's own, as Incus
// and LXD name it.
func hostArch(t *testing.T) string {
	arch, ok := transfer.IncusArchitecture(runtime.GOARCH)
	if !ok {
		t.Fatalf("GOARCH %s has no Incus name", runtime.GOARCH)
	}
	return arch
}

// vmFingerprint is the fingerprint a VM image made from disk must have: the sha256 of
// the generated metadata, then the disk.
func vmFingerprint(t *testing.T, arch string, created time.Time, disk string) string {
	t.Helper()
	meta, err := transfer.VMMetadata(arch, created, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(meta)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// TestAccCreateImageFromDisk uploads a bare qcow2 disk: the daemon stores a
// virtual-machine image of the server's architecture with the given creation date,
// whose fingerprint is that of the generated metadata and the disk, and the disk's
// own digest comes back. The same disk again, with the same date and the
// architecture under another name, is the same image: ExistsError.
func TestAccCreateImageFromDisk(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		disk := qcow2Disk(t)
		// A date of this run's own, so no image of an earlier run has the fingerprint,
		// and a month back, so an upload stamped with its own time differs.
		created := time.Now().UTC().Truncate(time.Second).AddDate(0, -1, 0)
		arch := hostArch(t)
		fp := vmFingerprint(t, arch, created, disk)
		deleteAtEnd(t, c, fp)
		img, err := c.CreateImage(context.Background(), backend.ImageCreate{
			Source: backend.ImageSource{Content: diskContent(t, disk, created)},
			Attrs:  backend.ImageAttrs{Properties: map[string]string{"description": "from a bare disk"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if img.Fingerprint != fp || img.Type != "virtual-machine" || img.Architecture != arch || !img.CreatedAt.Equal(created) {
			t.Fatalf("image %s, %s, %s, created %s; want %s, virtual-machine, %s, created %s",
				img.Fingerprint, img.Type, img.Architecture, img.CreatedAt, fp, arch, created)
		}
		if want := acctest.SHA256(t, disk); img.SHA256 != want {
			t.Fatalf("disk digest %q, want %s", img.SHA256, want)
		}
		if img.Properties["description"] != "from a bare disk" {
			t.Fatalf("properties %v", img.Properties)
		}
		for _, known := range []string{"", acctest.SHA256(t, disk)} {
			again := diskContent(t, disk, created)
			// The architecture under Go's name, which the metadata must spell as Incus does.
			again.Architecture, again.SHA256 = runtime.GOARCH, known
			img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: again}})
			var exists *backend.ExistsError
			if !errors.As(err, &exists) || exists.ID != fp {
				t.Fatalf("disk digest known %t: error %v, want an ExistsError for %s", known != "", err, fp)
			}
			if img != nil {
				t.Fatalf("a refused upload returned image %s", img.Fingerprint)
			}
		}
	})
}

// TestAccCreateImageFromDiskDefaults uploads a disk without architecture or date: the
// image has the server's architecture and the fixed date, so the fingerprint is the
// same on every run.
func TestAccCreateImageFromDiskDefaults(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		disk := qcow2Disk(t)
		fixed := time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)
		arch := hostArch(t)
		fp := vmFingerprint(t, arch, fixed, disk)
		deleteAtEnd(t, c, fp)
		img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: diskContent(t, disk, time.Time{})}})
		if err != nil {
			t.Fatal(err)
		}
		if img.Fingerprint != fp || img.Architecture != arch || !img.CreatedAt.Equal(fixed) {
			t.Fatalf("image %s, %s, created %s; want %s, %s, created %s", img.Fingerprint, img.Architecture, img.CreatedAt, fp, arch, fixed)
		}
	})
}

// TestAccCreateImageFromDiskRefused refuses a disk whose digest is not the one
// expected (the daemon keeps nothing) and a disk format the daemons cannot use (nothing
// is sent).
func TestAccCreateImageFromDiskRefused(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		disk := qcow2Disk(t)
		created := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
		fp := vmFingerprint(t, hostArch(t), created, disk)
		deleteAtEnd(t, c, fp)
		content := diskContent(t, disk, created)
		content.SHA256 = strings.Repeat("0", 64)
		since := time.Now()
		_, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: content}})
		var mismatch *transfer.DigestError
		if !errors.As(err, &mismatch) || !errors.Is(err, backend.ErrDigest) || mismatch.Got != acctest.SHA256(t, disk) {
			t.Fatalf("error %v, want a transfer.DigestError wrapping backend.ErrDigest", err)
		}
		expectAbsent(t, b, c, fp, since)

		content = diskContent(t, disk, created)
		content.DiskFormat = "vmdk"
		var sent int64
		_, err = c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: content}, Progress: func(n int64) { sent = n }})
		if err == nil || !strings.Contains(err.Error(), "cannot make a virtual-machine image of a vmdk disk image: it takes qcow2 only") || sent != 0 {
			t.Fatalf("error %v after %d bytes, want a refusal before sending", err, sent)
		}
		if incus.AcceptsDiskFormat("raw") || !incus.AcceptsDiskFormat("qcow2") {
			t.Fatal("AcceptsDiskFormat disagrees with DiskFormats")
		}
	})
}

// TestAccVMMetadataProperties sends generated metadata with awkward properties as a
// split VM image: the daemon's YAML parser must read back exactly what was written.
func TestAccVMMetadataProperties(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		disk := qcow2Disk(t)
		props := map[string]string{
			"description": `Debian "bookworm": <amd64> & more`,
			"multi":       "line one\nline two\ttab \\ backslash",
			"unicode":     "é ✓",
			"key: colon":  "# not a comment",
			"variant":     acctest.Name("props"),
		}
		meta, err := transfer.VMMetadata(runtime.GOARCH, time.Unix(1764322215, 0), props)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(disk)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: &backend.ImageContent{
			Metadata: bytes.NewReader(meta), MetadataName: "metadata.tar", Rootfs: f, RootfsName: "rootfs.img", VM: true,
		}}})
		if img != nil {
			deleteAtEnd(t, c, img.Fingerprint)
		}
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range props {
			if img.Properties[k] != v {
				t.Errorf("property %q is %q, want %q", k, img.Properties[k], v)
			}
		}
		if img.Architecture != hostArch(t) || img.CreatedAt.Unix() != 1764322215 {
			t.Errorf("architecture %s, created %s", img.Architecture, img.CreatedAt)
		}
	})
}

// TestAccExportVMImageAsDisk exports a VM image made from a disk: the content offers
// the split image and the bare qcow2 disk, which reads back byte for byte.
func TestAccExportVMImageAsDisk(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		disk := qcow2Disk(t)
		created := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)
		img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: diskContent(t, disk, created)}})
		if img != nil {
			deleteAtEnd(t, c, img.Fingerprint)
		}
		if err != nil {
			t.Fatal(err)
		}
		exp, err := c.ExportImage(context.Background(), img.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = exp.Close() }()
		got := exp.Content
		if got.Disk == nil || got.Disk != got.Rootfs || got.DiskFormat != "qcow2" || !got.VM || got.Architecture != hostArch(t) ||
			!got.CreatedAt.Equal(created) || got.SHA256 != "" {
			t.Fatalf("export content %+v", got)
		}
		data, err := io.ReadAll(got.Disk)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(disk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("exported disk has %d bytes, not the uploaded %d", len(data), len(want))
		}
	})
}
