package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The built command serves the API with the orgs it was given, stops cleanly on
// SIGTERM and removes its temporary data directory.
func TestCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "air-emulator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-org", "alpha=token-alpha", "-org", "beta=token-beta",
		"-chunk-size", "1048576", "-validation-delay", "0s", "-fail-part", "*:1:1:503")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	lines := bufio.NewScanner(stdout)
	var api, dataDir string
	var orgLines []string
	for len(orgLines) < 2 && lines.Scan() {
		line := lines.Text()
		switch {
		case strings.Contains(line, "image API at "):
			api = line[strings.Index(line, "http://"):]
		case strings.Contains(line, "part data in "):
			dataDir = strings.Fields(strings.SplitAfter(line, "part data in ")[1])[0]
		case strings.Contains(line, " org "):
			orgLines = append(orgLines, line)
		}
	}
	if api == "" || dataDir == "" || len(orgLines) != 2 || !strings.HasSuffix(orgLines[0], "org alpha token token-alpha") {
		t.Fatalf("startup output: api %q, data %q, orgs %q; stderr %s", api, dataDir, orgLines, stderr.String())
	}
	if _, err := os.Stat(dataDir); err != nil {
		t.Fatalf("data directory: %v", err)
	}

	// answer has the fields the test reads.
	type answer struct {
		ID           string `json:"id"`
		UploadStatus string `json:"upload_status"`
		PartURLs     []struct {
			URL string `json:"url"`
		} `json:"part_urls"`
	}
	request := func(method, url, token, body string) (int, answer) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out answer
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	status, img := request("POST", api+"images/", "token-alpha", `{"name":"n","version":"1","default_username":"u","default_password":"p"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, img)
	}
	id := img.ID
	if status, _ := request("GET", api+"images/"+id+"/", "token-beta", ""); status != http.StatusNotFound {
		t.Fatalf("org beta reads org alpha's image: %d", status)
	}
	if status, _ := request("GET", api+"images/", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", status)
	}
	// One part, which -fail-part makes fail once.
	status, up := request("PATCH", api+"images/"+id+"/start-upload/", "token-alpha",
		`{"hash":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":5}`)
	if status != http.StatusOK || len(up.PartURLs) != 1 {
		t.Fatalf("start-upload: %d %v", status, up)
	}
	partURL := up.PartURLs[0].URL
	if status, _ := request("PUT", partURL, "", "hello"); status != http.StatusServiceUnavailable {
		t.Fatalf("first part PUT: %d, want the -fail-part 503", status)
	}
	req, _ := http.NewRequest("PUT", partURL, strings.NewReader("hello"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second part PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if status, _ := request("PATCH", api+"images/"+id+"/complete-upload/", "token-alpha", `{"parts":[{"part_number":1,"etag":`+etag+`}]}`); status != http.StatusOK {
		t.Fatalf("complete-upload: %d", status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, img = request("GET", api+"images/"+id+"/", "token-alpha", "")
		if img.UploadStatus == "COMPLETE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not COMPLETE: %v", img)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\nstdout %s\nstderr %s", err, rest, stderr.String())
	}
	if !strings.Contains(string(rest), "stopped") {
		t.Fatalf("no stop message: %s", rest)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s left behind: %v", dataDir, err)
	}
}

func TestCommandFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-org", "noequals"},
		{"-org", "a=x", "-org", "a=y"},
		{"-fail-part", "*:1:1"},
		{"-fail-part", "*:1:1:teapot"},
		{"-fail-part", "*:x:1:503"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %s)", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-listen", "256.0.0.1:1"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "air-emulator:") {
		t.Errorf("bad listen address: exit %d, stderr %s", code, errOut.String())
	}
}
