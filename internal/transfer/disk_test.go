package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// synthetic writes a file of size bytes (zeros) with the given bytes at their offsets;
// a negative offset counts from the end.
func synthetic(t *testing.T, dir, name string, size int, at map[int][]byte) string {
	t.Helper()
	b := make([]byte, size)
	for off, magic := range at {
		if off < 0 {
			off += size
		}
		copy(b[off:], magic)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func u32be(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u32le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// TestDetectDiskSynthetic recognises each format from headers written by hand, named
// so that no file name could give the format away.
func TestDetectDiskSynthetic(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want DiskFormat
	}{
		{"qcow2 version 3", synthetic(t, dir, "a", 4096, map[int][]byte{0: append([]byte("QFI\xfb"), u32be(3)...)}), DiskQCOW2},
		{"qcow2 version 2", synthetic(t, dir, "b", 4096, map[int][]byte{0: append([]byte("QFI\xfb"), u32be(2)...)}), DiskQCOW2},
		{"vhdx", synthetic(t, dir, "c", 4096, map[int][]byte{0: []byte("vhdxfile")}), DiskVHDX},
		{"dynamic vhd", synthetic(t, dir, "d", 4096, map[int][]byte{0: []byte("conectix"), -512: []byte("conectix")}), DiskVHD},
		{"fixed vhd holding an MBR disk", synthetic(t, dir, "e", 1<<16, map[int][]byte{510: {0x55, 0xaa}, -512: []byte("conectix")}), DiskVHD},
		{"sparse vmdk", synthetic(t, dir, "f", 4096, map[int][]byte{0: []byte("KDMV")}), DiskVMDK},
		{"vmdk descriptor", synthetic(t, dir, "g", 300, map[int][]byte{0: []byte("# Disk DescriptorFile\nversion=1\n")}), DiskVMDK},
		{"vdi", synthetic(t, dir, "h", 4096, map[int][]byte{0: []byte("<<< Oracle VM VirtualBox Disk Image >>>\n"), 0x40: u32le(0xbeda107f)}), DiskVDI},
		{"iso", synthetic(t, dir, "i", 0x9000, map[int][]byte{0x8001: []byte("CD001")}), DiskISO},
		{"hybrid iso with a boot sector", synthetic(t, dir, "j", 0x9000, map[int][]byte{510: {0x55, 0xaa}, 0x8001: []byte("CD001")}), DiskISO},
		{"raw with an MBR", synthetic(t, dir, "k", 1<<16, map[int][]byte{510: {0x55, 0xaa}}), DiskRaw},
		{"raw with a GPT", synthetic(t, dir, "l", 1<<16, map[int][]byte{512: []byte("EFI PART")}), DiskRaw},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkDisk(t, tc.path, tc.want)
		})
	}
}

// TestDetectDiskQemuImg recognises the files qemu-img writes in every format it
// shares with Glance, in the subformats users meet.
func TestDetectDiskQemuImg(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed (scripts/backends.sh installs qemu-utils); the synthetic headers are still tested")
	}
	dir := t.TempDir()
	tests := []struct {
		qemuFormat string
		options    string
		want       DiskFormat
	}{
		{"qcow2", "", DiskQCOW2},
		{"qcow2", "compat=0.10", DiskQCOW2},
		{"vmdk", "", DiskVMDK},
		{"vmdk", "subformat=streamOptimized", DiskVMDK},
		{"vmdk", "subformat=monolithicFlat", DiskVMDK},
		{"vhdx", "", DiskVHDX},
		{"vdi", "", DiskVDI},
		{"vpc", "", DiskVHD},
		{"vpc", "subformat=fixed", DiskVHD},
	}
	for i, tc := range tests {
		t.Run(tc.qemuFormat+" "+tc.options, func(t *testing.T) {
			p := filepath.Join(dir, "disk"+string(rune('a'+i)))
			args := []string{"create", "-q", "-f", tc.qemuFormat}
			if tc.options != "" {
				args = append(args, "-o", tc.options)
			}
			if out, err := exec.Command("qemu-img", append(args, p, "4M")...).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img %v: %v: %s", args, err, out)
			}
			checkDisk(t, p, tc.want)
		})
	}
}

// checkDisk inspects p alone, with and without its digest.
func checkDisk(t *testing.T, p string, want DiskFormat) {
	t.Helper()
	for _, digest := range []bool{false, true} {
		got, err := Inspect(context.Background(), p, "", digest)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != ImageDisk || got.DiskFormat != want || !got.VM || got.Size != fi.Size() {
			t.Fatalf("inspected %+v, want a %s disk of %d bytes", got, want, fi.Size())
		}
		if wantSum := ""; digest {
			wantSum = sum(t, p)
			if got.SHA256 != wantSum {
				t.Fatalf("sha256 %s, want %s", got.SHA256, wantSum)
			}
		} else if got.SHA256 != wantSum {
			t.Fatalf("sha256 %q without digest", got.SHA256)
		}
	}
}

// TestInspectRefusesWithReasons checks the words users read in a diagnostic when a
// file is not what its place in the image needs.
func TestInspectRefusesWithReasons(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "x.img")
	if err := os.WriteFile(text, []byte("hello, not an image at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.qcow2")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	blank := synthetic(t, dir, "blank.raw", 1<<16, nil)
	qcow1 := synthetic(t, dir, "old.qcow2", 4096, map[int][]byte{0: append([]byte("QFI\xfb"), u32be(1)...)})
	squash := synthetic(t, dir, "root.squashfs", 4096, map[int][]byte{0: []byte("hsqs")})
	vmdk := synthetic(t, dir, "disk.vmdk", 4096, map[int][]byte{0: []byte("KDMV")})
	qcow2 := synthetic(t, dir, "disk.qcow2", 4096, map[int][]byte{0: append([]byte("QFI\xfb"), u32be(3)...)})
	meta := filepath.Join(dir, "meta.tar")
	writeTar(t, meta, false, map[string]string{"metadata.yaml": "architecture: x86_64\n"})

	tests := []struct {
		name, file, rootfs string
		wantIs             error
		want               string
	}{
		{"text alone", text, "", ErrNotImage,
			text + " is not an image this provider knows: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso); " +
				`its first bytes are 68 65 6c 6c 6f 2c 20 6e 6f 74 20 61 6e 20 69 6d ("hello, not an im")`},
		{"empty file", empty, "", ErrNotImage,
			empty + " is not an image this provider knows: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso); it is empty"},
		{"raw disk without a partition table", blank, "", ErrNotImage,
			blank + " is not an image this provider knows: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso); its first bytes are 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
		{"qcow version 1", qcow1, "", ErrNotImage,
			qcow1 + " is not an image this provider knows: expected a unified Incus tarball (metadata.yaml and rootfs/) or a disk image (qcow2, raw, vmdk, vhd, vhdx, vdi, iso); its first bytes are 51 46 49 fb 00 00 00 01 00 00 00 00 00 00 00 00"},
		{"squashfs alone", squash, "", nil,
			squash + " is a squashfs, which is only the rootfs of a split image: give it together with its metadata tarball, or give a unified Incus tarball or a disk image alone"},
		{"disk as split metadata", qcow2, squash, nil,
			qcow2 + " is a qcow2 disk image, not the metadata tarball of a split image: a disk image is a whole image: give it alone, as file"},
		{"text as split metadata", text, squash, ErrNotImage,
			text + " is not an image this provider knows: the metadata of a split image is a tarball (tar, gzip, bzip2, xz or zstd) holding metadata.yaml; " +
				`its first bytes are 68 65 6c 6c 6f 2c 20 6e 6f 74 20 61 6e 20 69 6d ("hello, not an im")`},
		{"vmdk as split rootfs", meta, vmdk, nil,
			vmdk + " is a vmdk disk image: the rootfs of a split image is a squashfs, a tarball or a qcow2 disk image (convert it with qemu-img convert -O qcow2, or give it alone as a disk image)"},
		{"text as split rootfs", meta, text, ErrNotImage,
			text + " is not an image this provider knows: the rootfs of a split image is a squashfs, a tarball or a qcow2 disk image; " +
				`its first bytes are 68 65 6c 6c 6f 2c 20 6e 6f 74 20 61 6e 20 69 6d ("hello, not an im")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(context.Background(), tc.file, tc.rootfs, false)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantIs)
			}
			var fe *FileError
			wantPath := tc.file
			if strings.HasPrefix(tc.want, tc.rootfs) && tc.rootfs != "" {
				wantPath = tc.rootfs
			}
			if !errors.As(err, &fe) || fe.Path != wantPath {
				t.Fatalf("error %v names %+v, want a FileError for %s", err, fe, wantPath)
			}
		})
	}
}

// TestInspectKinds reports each layout, and a split image with a qcow2 rootfs as a VM.
func TestInspectKinds(t *testing.T) {
	dir := t.TempDir()
	unified := filepath.Join(dir, "u.tar.gz")
	writeTar(t, unified, true, map[string]string{"metadata.yaml": "architecture: x86_64\n", "rootfs/etc/hostname": "x\n"})
	qcow2 := synthetic(t, dir, "d", 4096, map[int][]byte{0: append([]byte("QFI\xfb"), u32be(3)...)})
	for name, tc := range map[string]struct {
		file, rootfs string
		kind         ImageKind
		format       DiskFormat
		vm           bool
	}{
		"unified":   {unified, "", ImageUnified, "", false},
		"split VM":  {unified, qcow2, ImageSplit, "", true},
		"bare disk": {qcow2, "", ImageDisk, DiskQCOW2, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Inspect(context.Background(), tc.file, tc.rootfs, false)
			if err != nil {
				t.Fatal(err)
			}
			var size int64
			for _, p := range []string{tc.file, tc.rootfs} {
				if fi, err := os.Stat(p); err == nil {
					size += fi.Size()
				}
			}
			if got.Kind != tc.kind || got.DiskFormat != tc.format || got.VM != tc.vm || got.Size != size {
				t.Fatalf("inspected %+v, want kind %s, format %q, VM %t, size %d", got, tc.kind, tc.format, tc.vm, size)
			}
		})
	}
}

func TestFirstBytesOfBinary(t *testing.T) {
	if got := firstBytes([]byte{0xff, 'a', 0}); got != "its first bytes are ff 61 00" {
		t.Fatalf("got %q", got)
	}
	if got := firstBytes(bytes.Repeat([]byte("a"), 40)); !strings.HasSuffix(got, `("aaaaaaaaaaaaaaaa")`) {
		t.Fatalf("got %q, want 16 bytes shown", got)
	}
}
