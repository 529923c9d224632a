// Command testimage builds the busybox test image the quickstart and the benchmarks
// upload: testimage -dir DIR [-variant NAME] [-pad BYTES] prints the tarball's path.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
)

func main() {
	dir := flag.String("dir", ".", "directory to write the image into")
	variant := flag.String("variant", "quickstart", "variant name, written into metadata.yaml")
	pad := flag.Int64("pad", 0, "bytes of random padding to add to the rootfs")
	flag.Parse()
	p, err := acctest.BuildUnified(*dir, acctest.ImageOpts{Variant: *variant, PadBytes: *pad})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		os.Exit(1)
	}
	fmt.Println(p)
}
