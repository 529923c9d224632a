package incus_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/acctest"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/incus"
)

var (
	imagesPath    = regexp.MustCompile(`^/1\.0/images$`)
	instancesPath = regexp.MustCompile(`^/1\.0/instances$`)
	aliasesPath   = regexp.MustCompile(`^/1\.0/images/aliases$`)
)

// clientAt is a client of b's daemon at address, as the provider makes one, with
// quick retries.
func clientAt(t *testing.T, b acctest.Backend, address string) *incus.Client {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs against the real daemons: set TF_ACC=1")
	}
	acctest.PreCheck(t, b)
	c, err := incus.New(incus.Config{Kind: b.Kind, Address: address,
		Retry: httpclient.Retry{MaxAttempts: 3, MinWait: 10 * time.Millisecond, MaxWait: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// proxied is a client of b's daemon through an AnswerProxy.
func proxied(t *testing.T, b acctest.Backend) (*incus.Client, *acctest.AnswerProxy) {
	t.Helper()
	p := acctest.StartAnswerProxy(t, b)
	return clientAt(t, b, p.Address), p
}

// query reads an object as the daemon holds it, past what the client hides.
func query(t *testing.T, b acctest.Backend, path string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(b.Run(t, "query", path)), into); err != nil {
		t.Fatal(err)
	}
}

func imageProperties(t *testing.T, b acctest.Backend, fp string) map[string]string {
	t.Helper()
	var img struct {
		Properties map[string]string `json:"properties"`
	}
	query(t, b, "/1.0/images/"+fp, &img)
	return img.Properties
}

// checkFinished fails unless the image carries the name its create gave and no
// creation mark.
func checkFinished(t *testing.T, b acctest.Backend, fp, name string) {
	t.Helper()
	props := imageProperties(t, b, fp)
	if mark, ok := props["imagefleet_creation"]; ok {
		t.Errorf("image %s still carries the creation mark %q", fp, mark)
	}
	if props["name"] != name {
		t.Errorf("image %s is named %q, not %q: its create was not finished", fp, props["name"], name)
	}
}

// writeTarball writes a gzipped tarball of the files, each a name and a content.
func writeTarball(t *testing.T, p string, files ...[2]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, file := range files {
		if err := tw.WriteHeader(&tar.Header{Name: file[0], Mode: 0o644, Size: int64(len(file[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(file[1])); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range []error{tw.Close(), zw.Close()} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

type imageSource struct {
	content *backend.ImageContent
	fp      string
}

// TestAccCreateImageAnswerLost loses the answer to the upload after the server
// carried it out, or answers a gateway's 503 in its place before or after: the
// create finds the image it made and finishes it, marked (tarballs) or not (bare
// disks); a local file is sent again after a gateway's 503.
func TestAccCreateImageAnswerLost(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		dir := acctest.TempDir(t)
		created := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
		unified := func() imageSource {
			f := acctest.Unified(t, dir, acctest.ImageOpts{Variant: acctest.Name("lost")})
			return imageSource{fileContent(t, f), acctest.SHA256(t, f)}
		}
		split := func() imageSource {
			m, r, err := acctest.BuildSplit(dir, acctest.ImageOpts{Variant: acctest.Name("lost-split")}, false)
			if err != nil {
				t.Fatal(err)
			}
			return imageSource{splitContent(t, m, r), acctest.SHA256(t, m, r)}
		}
		disk := func() imageSource {
			d := qcow2Disk(t)
			return imageSource{diskContent(t, d, created), vmFingerprint(t, hostArch(t), created, d)}
		}
		for _, tc := range []struct {
			name   string
			fault  acctest.AnswerFault
			source func() imageSource
		}{
			{"unified, answer lost", acctest.LoseAnswer, unified},
			{"unified, a gateway's 503 after the upload", acctest.Gateway503After, unified},
			{"unified, a gateway's 503 before the upload", acctest.Gateway503Before, unified},
			{"split, answer lost", acctest.LoseAnswer, split},
			{"disk, answer lost", acctest.LoseAnswer, disk},
			{"disk, a gateway's 503 after the upload", acctest.Gateway503After, disk},
			{"disk, a gateway's 503 before the upload", acctest.Gateway503Before, disk},
		} {
			src := tc.source()
			deleteAtEnd(t, direct, src.fp)
			c, p := proxied(t, b)
			p.Spoil(http.MethodPost, imagesPath, tc.fault, 1)
			name := acctest.Name("lost")
			img, err := c.CreateImage(context.Background(), backend.ImageCreate{
				Source: backend.ImageSource{Content: src.content}, Attrs: backend.ImageAttrs{Name: &name}})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if p.Spoiled() != 1 {
				t.Fatalf("%s: the proxy spoiled %d answers, want 1", tc.name, p.Spoiled())
			}
			if img.Fingerprint != src.fp || img.Name != name {
				t.Fatalf("%s: created %s named %q, want %s named %q", tc.name, img.Fingerprint, img.Name, src.fp, name)
			}
			checkFinished(t, b, src.fp, name)
		}
	})
}

// TestAccCreateImageUnmarkable uploads a tarball whose metadata.yaml has no
// properties, which the daemons would crash on if the upload carried the mark: it
// goes unmarked and is stored; with its answer lost, nothing tells its image from
// another's, and the error says so; from a local file, the images are listed before
// the upload, and the one that was not there is the create's.
func TestAccCreateImageUnmarkable(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		dir := acctest.TempDir(t)
		for _, tc := range []struct{ lose, local bool }{{false, false}, {true, false}, {true, true}} {
			f := filepath.Join(dir, acctest.Name("bare")+".tar.gz")
			writeTarball(t, f,
				[2]string{"metadata.yaml", fmt.Sprintf("architecture: %s\ncreation_date: %d\n", acctest.Arch(), time.Now().Unix())},
				[2]string{"rootfs/etc/hostname", acctest.Name("bare") + "\n"})
			fp := acctest.SHA256(t, f)
			deleteAtEnd(t, direct, fp)
			c, p := proxied(t, b)
			if tc.lose {
				p.Spoil(http.MethodPost, imagesPath, acctest.LoseAnswer, 1)
			}
			// Without the file under it (a stream), the provider cannot list the
			// images before the upload and tell the new one by its fingerprint.
			content := fileContent(t, f)
			if !tc.local {
				content.At = nil
			}
			img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: content}})
			b.Run(t, "info") // the daemon is still there
			switch {
			case !tc.lose && err != nil:
				t.Fatalf("an image without properties: %v", err)
			case tc.lose && !tc.local && (err == nil || !strings.Contains(err.Error(), "import it")):
				t.Fatalf("answer lost: error %v, want one that says the image may be there to import", err)
			case tc.lose && tc.local && (err != nil || img.Fingerprint != fp):
				t.Fatalf("answer lost, from a local file: %v, want the new image %s found", err, fp)
			}
			if _, ok := imageProperties(t, b, fp)["imagefleet_creation"]; ok {
				t.Fatal("the image carries a mark it must not have been sent")
			}
		}
	})
}

// TestAccCreateImageInterrupted kills (SIGKILL) a run whose upload the server carried
// out while the run waited for the answer: the image stays, marked. The next run of
// the same create adopts it; a create of another name refuses it as someone else's.
func TestAccCreateImageInterrupted(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		f := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("killed")})
		fp := acctest.SHA256(t, f)
		deleteAtEnd(t, direct, fp)
		sock := acctest.ProxySocket(t)
		name := acctest.Name("killed")
		killedRun(t, interruptedCreate{Kind: b.Kind, Socket: sock, File: f, Name: name}, func() bool {
			_, err := b.Try("query", "/1.0/images/"+fp)
			return err == nil
		})
		if mark := imageProperties(t, b, fp)["imagefleet_creation"]; mark == "" {
			t.Fatal("the killed run's image carries no creation mark")
		}
		c := clientAt(t, b, acctest.StartAnswerProxyAt(t, b, sock).Address)
		other := name + "-other"
		_, err := c.CreateImage(context.Background(), backend.ImageCreate{
			Source: backend.ImageSource{Content: fileContent(t, f)}, Attrs: backend.ImageAttrs{Name: &other}})
		var exists *backend.ExistsError
		if !errors.As(err, &exists) || exists.ID != fp {
			t.Fatalf("another create's image: error %v, want an ExistsError for %s", err, fp)
		}
		img, err := c.CreateImage(context.Background(), backend.ImageCreate{
			Source: backend.ImageSource{Content: fileContent(t, f)}, Attrs: backend.ImageAttrs{Name: &name}})
		if err != nil {
			t.Fatalf("the next run does not adopt the image: %v", err)
		}
		if img.Fingerprint != fp {
			t.Fatalf("adopted %s, want %s", img.Fingerprint, fp)
		}
		checkFinished(t, b, fp, name)
	})
}

// interruptedCreate is the create a killed run makes, in a child process.
type interruptedCreate struct {
	Kind   backend.Kind
	Socket string
	// File and Name make an image; Instance and Image an instance.
	File, Name      string
	Instance, Image string
}

// killedRun runs create in a child process whose POST the server carries out and
// whose answer it never gets, and kills it with SIGKILL once there is what it made.
func killedRun(t *testing.T, create interruptedCreate, made func() bool) {
	t.Helper()
	spec, err := json.Marshal(create)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAccHelperInterruptedCreate$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IMAGEFLEET_INTERRUPTED_CREATE="+string(spec))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	for end := time.Now().Add(2 * time.Minute); !made(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			_ = cmd.Process.Kill()
			t.Fatalf("the child run made nothing within 2 minutes: %s", out)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the child run: %v (%s)", err, out)
	}
}

// TestAccHelperInterruptedCreate is no test of its own: it is the run that
// killedRun starts in a child process, and kills while its create waits for the
// answer that its proxy holds back.
func TestAccHelperInterruptedCreate(t *testing.T) {
	raw := os.Getenv("IMAGEFLEET_INTERRUPTED_CREATE")
	if raw == "" {
		t.Skip("runs only as the child process of an interrupted-create test")
	}
	var create interruptedCreate
	if err := json.Unmarshal([]byte(raw), &create); err != nil {
		t.Fatal(err)
	}
	b := acctest.Backends[0]
	if create.Kind == acctest.Backends[1].Kind {
		b = acctest.Backends[1]
	}
	p := acctest.StartAnswerProxyAt(t, b, create.Socket)
	c := clientAt(t, b, p.Address)
	var err error
	if create.Instance != "" {
		p.Spoil(http.MethodPost, instancesPath, acctest.HoldAnswer, 1)
		err = c.CreateInstance(context.Background(), backend.InstanceCreate{InstanceRef: backend.InstanceRef{Name: create.Instance}, Image: create.Image, Type: "container"})
	} else {
		p.Spoil(http.MethodPost, imagesPath, acctest.HoldAnswer, 1)
		_, err = c.CreateImage(context.Background(), backend.ImageCreate{
			Source: backend.ImageSource{Content: fileContent(t, create.File)}, Attrs: backend.ImageAttrs{Name: &create.Name}})
	}
	t.Fatalf("the create returned (%v): it should have been killed while it waited", err)
}

// testImage uploads a small image for instances and returns its fingerprint.
func testImage(t *testing.T, c *incus.Client) string {
	t.Helper()
	f := acctest.Unified(t, acctest.TempDir(t), acctest.ImageOpts{Variant: acctest.Name("base")})
	img, err := c.CreateImage(context.Background(), backend.ImageCreate{Source: backend.ImageSource{Content: fileContent(t, f)}})
	if err != nil {
		t.Fatal(err)
	}
	deleteAtEnd(t, c, img.Fingerprint)
	return img.Fingerprint
}

// instanceConfig reads an instance's own config as the daemon holds it.
func instanceConfig(t *testing.T, b acctest.Backend, name string) (config map[string]string, status string) {
	t.Helper()
	var in struct {
		Config map[string]string `json:"config"`
		Status string            `json:"status"`
	}
	query(t, b, "/1.0/instances/"+name, &in)
	return in.Config, in.Status
}

// deleteInstanceAtEnd removes the instance after the test, once an operation that
// may still be creating it (a test that failed early) let it be removed.
func deleteInstanceAtEnd(t *testing.T, b acctest.Backend, name string) {
	t.Cleanup(func() {
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(time.Second) {
			if _, err := b.Try("delete", "--force", name); err == nil {
				return
			}
			if _, err := b.Try("query", "/1.0/instances/"+name); err != nil {
				return
			}
		}
	})
}

// TestAccCreateInstanceAnswerLost loses the answer to the create after the server
// carried it out, or answers a gateway's 503 in its place: the create adopts the
// one instance it made, stopped and without its mark.
func TestAccCreateInstanceAnswerLost(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		fp := testImage(t, direct)
		for _, fault := range []acctest.AnswerFault{acctest.LoseAnswer, acctest.Gateway503After} {
			name := acctest.Name("lost")
			deleteInstanceAtEnd(t, b, name)
			c, p := proxied(t, b)
			p.Spoil(http.MethodPost, instancesPath, fault, 1)
			err := c.CreateInstance(context.Background(), backend.InstanceCreate{InstanceRef: backend.InstanceRef{Name: name}, Image: fp, Type: "container",
				InstanceSpec: backend.InstanceSpec{Config: map[string]string{"user.role": "web"}}})
			if err != nil {
				t.Fatalf("%s: %v", fault, err)
			}
			if p.Spoiled() != 1 {
				t.Fatalf("%s: the proxy spoiled %d answers, want 1", fault, p.Spoiled())
			}
			config, status := instanceConfig(t, b, name)
			if _, ok := config["user.imagefleet.creation"]; ok || config["user.role"] != "web" || status != "Stopped" {
				t.Fatalf("%s: instance %s is %s with config %v: want it stopped, with user.role and no creation mark", fault, name, status, config)
			}
		}
	})
}

// TestAccCreateInstanceInterrupted kills a run while it waits for the answer to its
// create: the next run adopts the instance; an instance of the name that is not this
// create's is refused as a name taken.
func TestAccCreateInstanceInterrupted(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		fp := testImage(t, direct)
		name := acctest.Name("killed")
		deleteInstanceAtEnd(t, b, name)
		sock := acctest.ProxySocket(t)
		killedRun(t, interruptedCreate{Kind: b.Kind, Socket: sock, Instance: name, Image: fp}, func() bool {
			_, err := b.Try("query", "/1.0/instances/"+name)
			return err == nil
		})
		c := clientAt(t, b, acctest.StartAnswerProxyAt(t, b, sock).Address)
		if err := c.CreateInstance(context.Background(), backend.InstanceCreate{InstanceRef: backend.InstanceRef{Name: name}, Image: fp, Type: "container"}); err != nil {
			t.Fatalf("the next run does not adopt the instance: %v", err)
		}
		config, status := instanceConfig(t, b, name)
		if _, ok := config["user.imagefleet.creation"]; ok || status != "Stopped" {
			t.Fatalf("instance %s is %s with config %v: want it stopped and unmarked", name, status, config)
		}
		// Now recorded, unmarked: the same create again finds the name taken.
		err := c.CreateInstance(context.Background(), backend.InstanceCreate{InstanceRef: backend.InstanceRef{Name: name}, Image: fp, Type: "container"})
		if !errors.Is(err, backend.ErrConflict) || !errors.Is(err, backend.ErrNotCreated) {
			t.Fatalf("an instance without a mark of this create: error %v, want a name taken", err)
		}
	})
}

// TestAccCreateInstanceKeepMark: a create whose caller finishes it itself
// (KeepMark) leaves the mark until FinishCreate, and until then the instance is
// still being made: another create of the name in this process finds the name
// taken rather than taking the instance for an interrupted run's. (An interrupted
// run's is TestAccCreateInstanceInterrupted.)
func TestAccCreateInstanceKeepMark(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		c := connect(t, b)
		fp := testImage(t, c)
		name := acctest.Name("keep")
		deleteInstanceAtEnd(t, b, name)
		spec := backend.InstanceCreate{InstanceRef: backend.InstanceRef{Name: name}, Image: fp, Type: "container", KeepMark: true}
		if err := c.CreateInstance(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		if config, _ := instanceConfig(t, b, name); config["user.imagefleet.creation"] == "" {
			t.Fatalf("instance %s is not marked: %v", name, config)
		}
		b.Run(t, "start", name)
		if err := c.CreateInstance(context.Background(), spec); !errors.Is(err, backend.ErrConflict) {
			t.Fatalf("a second create while the first is unfinished: %v, want the name taken", err)
		}
		if _, status := instanceConfig(t, b, name); status != "Running" {
			t.Fatalf("the instance being made is %s: the second create touched it", status)
		}
		if err := c.FinishCreate(context.Background(), spec.InstanceRef); err != nil {
			t.Fatal(err)
		}
		if config, _ := instanceConfig(t, b, name); config["user.imagefleet.creation"] != "" {
			t.Fatalf("instance %s is still marked after FinishCreate: %v", name, config)
		}
	})
}

// TestAccCreateAliasAnswerLost loses the answer to an alias's create: the alias the
// server holds, alike, is the one asked for; one that differs is a name taken.
func TestAccCreateAliasAnswerLost(t *testing.T) {
	acctest.ForEachBackend(t, func(t *testing.T, b acctest.Backend) {
		direct := connect(t, b)
		fp := testImage(t, direct)
		for _, fault := range []acctest.AnswerFault{acctest.LoseAnswer, acctest.Gateway503After} {
			name := acctest.Name("lost")
			t.Cleanup(func() { _ = direct.DeleteAlias(context.Background(), name) })
			c, p := proxied(t, b)
			p.Spoil(http.MethodPost, aliasesPath, fault, 1)
			a := backend.Alias{Name: name, Target: fp, Description: "lost answer"}
			if err := c.CreateAlias(context.Background(), a); err != nil {
				t.Fatalf("%s: %v", fault, err)
			}
			if p.Spoiled() != 1 {
				t.Fatalf("%s: the proxy spoiled %d answers, want 1", fault, p.Spoiled())
			}
			got, err := direct.GetAlias(context.Background(), name)
			if err != nil || got.Target != fp || got.Description != a.Description {
				t.Fatalf("%s: alias %+v (%v), want one on %s", fault, got, err, fp)
			}
			// The same alias again is the one there; another description is not.
			if err := c.CreateAlias(context.Background(), a); err != nil {
				t.Fatalf("%s: the same alias again: %v", fault, err)
			}
			a.Description = "another"
			if err := c.CreateAlias(context.Background(), a); !errors.Is(err, backend.ErrConflict) {
				t.Fatalf("%s: an alias that differs: error %v, want a conflict", fault, err)
			}
		}
	})
}
