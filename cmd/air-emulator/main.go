// Command air-emulator serves an emulation of NVIDIA Air's v3 image API (see
// internal/airemu) so that the provider can be tried without the real service:
// point an air endpoint's api_url at the URL it prints and use one of its org
// tokens as api_key.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/airemu"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// orgFlag collects -org NAME=TOKEN.
type orgFlag map[string]string

func (o orgFlag) String() string { return "" }

func (o orgFlag) Set(v string) error {
	name, token, ok := strings.Cut(v, "=")
	if !ok || name == "" || token == "" {
		return errors.New("want NAME=TOKEN")
	}
	if _, dup := o[name]; dup {
		return fmt.Errorf("org %q given twice", name)
	}
	o[name] = token
	return nil
}

// failPart is one -fail-part IMAGE:PART:TIMES:MODE.
type failPart struct {
	image       string
	part, times int
	mode        airemu.FailMode
}

type failFlag []failPart

func (f *failFlag) String() string { return "" }

func (f *failFlag) Set(v string) error {
	fields := strings.Split(v, ":")
	if len(fields) != 4 {
		return errors.New("want IMAGE:PART:TIMES:MODE, e.g. *:2:3:503")
	}
	part, err := strconv.Atoi(fields[1])
	if err != nil || part < 0 {
		return fmt.Errorf("part %q is not a part number (0: any part)", fields[1])
	}
	times, err := strconv.Atoi(fields[2])
	if err != nil || times < 1 {
		return fmt.Errorf("times %q is not a positive number", fields[2])
	}
	mode, err := airemu.ParseFailMode(fields[3])
	if err != nil {
		return err
	}
	*f = append(*f, failPart{image: fields[0], part: part, times: times, mode: mode})
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("air-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgs := orgFlag{}
	var fails failFlag
	listen := fs.String("listen", "127.0.0.1:8080", "`address` to serve on; the API is at /api/v3/")
	fs.Var(orgs, "org", "an organisation and its bearer token, `NAME=TOKEN` (repeatable; default: one org with a random token)")
	chunk := fs.Int64("chunk-size", airemu.DefaultChunkSize, "part size start-upload answers, in `bytes` (the real service: about 100 MB)")
	data := fs.String("data", "", "`directory` for part data (default: a temporary one, removed at exit)")
	bandwidth := fs.Int64("bandwidth", 0, "cap on each part upload connection, in `bytes` per second (0: none)")
	validation := fs.Duration("validation-delay", 2*time.Second, "how long an upload stays VALIDATING")
	transition := fs.Duration("transition-delay", 2*time.Second, "how long PUBLISHING, UNPUBLISHING and COPYING_FROM_IMAGE_SHARE last")
	cleanup := fs.Duration("share-cleanup-delay", 0, "how long an expired share stays visible")
	deleteClaimed := fs.Bool("delete-claimed-shares", false, "delete a share once its claim completes")
	failValidation := fs.String("fail-validation", "", "make every validation fail with this `reason`")
	protected := fs.Bool("protected", false, "answer every image delete with 400 PROTECTED")
	fs.Var(&fails, "fail-part", "make part requests fail, `IMAGE:PART:TIMES:MODE` (IMAGE * for any, PART 0 for any, MODE 503 or reset; repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		printf(stderr, "air-emulator: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if len(orgs) == 0 {
		orgs["default"] = randomToken()
	}

	emu, err := airemu.New(airemu.Options{
		Orgs: orgs, ChunkSize: *chunk, DataDir: *data, Bandwidth: *bandwidth,
		ValidationDelay: *validation, TransitionDelay: *transition,
		ShareCleanupDelay: *cleanup, DeleteClaimedShares: *deleteClaimed,
	})
	if err != nil {
		printf(stderr, "air-emulator: %v\n", err)
		return 1
	}
	defer func() {
		if err := emu.Close(); err != nil {
			printf(stderr, "air-emulator: %v\n", err)
		}
	}()
	emu.FailValidation(*failValidation)
	if *protected {
		emu.SetProtected("*", true)
	}
	for _, f := range fails {
		emu.FailPart(f.image, f.part, f.times, f.mode)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		printf(stderr, "air-emulator: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	printf(stdout, "air-emulator: NVIDIA Air v3 image API at http://%s/api/v3/\n", ln.Addr())
	if *data == "" {
		printf(stdout, "air-emulator: part data in %s (removed at exit)\n", emu.DataDir())
	} else {
		printf(stdout, "air-emulator: part data in %s\n", emu.DataDir())
	}
	names := make([]string, 0, len(orgs))
	for name := range orgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		printf(stdout, "air-emulator: org %s token %s\n", name, orgs[name])
	}

	select {
	case err := <-served:
		printf(stderr, "air-emulator: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	// Uploads under way get a few seconds to finish, then their connections close.
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
	}
	printf(stdout, "air-emulator: stopped\n")
	return 0
}

// printf writes to the terminal, where a failed write has no one to be told to.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// randomToken looks like an NGC personal key.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "nvapi-" + hex.EncodeToString(b)
}
