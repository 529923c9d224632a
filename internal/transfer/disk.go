package transfer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// DiskFormat is the format of a bare disk image, named as Glance names disk_format.
type DiskFormat string

const (
	DiskQCOW2 DiskFormat = "qcow2"
	DiskRaw   DiskFormat = "raw"
	DiskVMDK  DiskFormat = "vmdk"
	DiskVHD   DiskFormat = "vhd"
	DiskVHDX  DiskFormat = "vhdx"
	DiskVDI   DiskFormat = "vdi"
	DiskISO   DiskFormat = "iso"
)

// DiskFormats lists every format the detection knows, in the order messages name them.
var DiskFormats = []DiskFormat{DiskQCOW2, DiskRaw, DiskVMDK, DiskVHD, DiskVHDX, DiskVDI, DiskISO}

// diskFormatList is DiskFormats for messages: "qcow2, raw, ...".
func diskFormatList() string {
	names := make([]string, len(DiskFormats))
	for i, f := range DiskFormats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// headSize is how much of a file's start the detection needs: up to the ISO 9660
// volume descriptor's "CD001" at 0x8001.
const headSize = 0x8001 + 5

// tailSize is the VHD footer, the only thing the detection reads at a file's end.
const tailSize = 512

// detectDisk names the format of a disk image from the first bytes of the file (head,
// up to headSize) and its last 512 (tail; shorter or nil when the file is). Only
// magic numbers count, never a name. Formats that embed another are tested first: a
// fixed VHD is a raw disk with a footer, and a hybrid ISO also carries a boot sector.
func detectDisk(head, tail []byte) (DiskFormat, bool) {
	at := func(off int, magic string) bool {
		return len(head) >= off+len(magic) && string(head[off:off+len(magic)]) == magic
	}
	switch {
	case at(0, "QFI\xfb") && len(head) >= 8:
		// Version 1 shares the magic but is another format (qemu's "qcow").
		if v := binary.BigEndian.Uint32(head[4:8]); v == 2 || v == 3 {
			return DiskQCOW2, true
		}
		return "", false
	case at(0, "vhdxfile"):
		return DiskVHDX, true
	case at(0, "conectix"):
		// A dynamic or differencing VHD starts with a copy of its footer.
		return DiskVHD, true
	case at(0, "KDMV"), at(0, "# Disk DescriptorFile"):
		// A sparse extent, or the text descriptor of a VMDK.
		return DiskVMDK, true
	case at(0, "<<< ") && len(head) >= 0x44 && binary.LittleEndian.Uint32(head[0x40:0x44]) == 0xbeda107f:
		return DiskVDI, true
	case at(0x8001, "CD001"):
		return DiskISO, true
	case len(tail) == tailSize && string(tail[:8]) == "conectix":
		// A fixed VHD: the raw disk, then its footer.
		return DiskVHD, true
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xaa, at(512, "EFI PART"):
		// A raw disk is recognised by its partition table: an MBR boot signature, or a
		// GPT header in the second sector (512-byte sectors).
		return DiskRaw, true
	}
	return "", false
}

// firstBytes describes the start of a file for a message about what it is not.
func firstBytes(head []byte) string {
	if len(head) == 0 {
		return "it is empty"
	}
	b := head[:min(len(head), 16)]
	var hex strings.Builder
	for i, c := range b {
		if i > 0 {
			hex.WriteByte(' ')
		}
		fmt.Fprintf(&hex, "%02x", c)
	}
	printable := bytes.IndexFunc(b, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) && r != '\n' && r != '\t' }) < 0
	if printable {
		return fmt.Sprintf("its first bytes are %s (%q)", hex.String(), b)
	}
	return "its first bytes are " + hex.String()
}

// DiskFormatOf tells whether an open file is a bare disk image, and of which format,
// from its head and tail alone; "" for anything else (an Incus tarball). The file's
// offset is left where it was.
func DiskFormatOf(f *os.File) (DiskFormat, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	head := make([]byte, headSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	var tail []byte
	if fi.Size() >= tailSize {
		tail = make([]byte, tailSize)
		if _, err := f.ReadAt(tail, fi.Size()-tailSize); err != nil {
			return "", err
		}
	}
	return sniff(head[:n], tail).disk, nil
}
