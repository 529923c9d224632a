package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// checkWebDownload fails when the cloud does not offer the web-download import.
func (c *Client) checkWebDownload(ctx context.Context) error {
	info, err := imageimport.Get(ctx, c.image).Extract()
	if err != nil {
		return fmt.Errorf("reading the import methods of %s: %w", c.Server(), c.fail(ctx, err))
	}
	methods := info.ImportMethods.Value
	for _, m := range methods {
		if m == string(imageimport.WebDownloadMethod) {
			return nil
		}
	}
	offers := "none"
	if len(methods) > 0 {
		offers = strings.Join(methods, ", ")
	}
	return fmt.Errorf("the image service at %s does not offer the web-download import method (it offers: %s), so it cannot download an image from a URL: download the file and give it as file", c.Server(), offers)
}

// importURL asks Glance to download uri into image id, and waits for the end.
func (c *Client) importURL(ctx context.Context, id, uri string) error {
	err := imageimport.Create(ctx, c.image, id, imageimport.CreateOpts{Name: imageimport.WebDownloadMethod, URI: uri}).ExtractErr()
	if err != nil {
		err = c.fail(ctx, err)
		var apiErr *backend.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest {
			// Glance's import filter refuses hosts and ports its operator has not
			// allowed, and says so itself.
			return fmt.Errorf("the image service at %s refused to import %s: %w", c.Server(), uri, err)
		}
		return fmt.Errorf("asking %s to import %s: %w", c.Server(), uri, err)
	}
	return c.waitImport(ctx, id, uri)
}

// waitImport polls an importing image until it is active. A failed import puts the
// image back in queued with os_glance_failed_import set (or, on older clouds,
// kills it); polling is fast at first, since a URL that cannot be read fails
// within a second.
func (c *Client) waitImport(ctx context.Context, id, uri string) error {
	started := false
	for wait := backend.NewBackoff(); ; {
		img, err := c.get(ctx, id)
		if err != nil {
			return fmt.Errorf("waiting for image %s to import %s: %w", id, uri, err)
		}
		_, task := img.Properties["os_glance_import_task"]
		failed, _ := img.Properties["os_glance_failed_import"].(string)
		started = started || task || img.Status == "importing"
		switch string(img.Status) {
		case statusActive:
			return nil
		case statusKilled:
			return c.importFailed(ctx, id, uri, "Glance killed the image")
		case statusQueued:
			if failed != "" {
				return c.importFailed(ctx, id, uri, fmt.Sprintf("the image went back to queued, failed in store %s", failed))
			}
			if started && !task {
				return c.importFailed(ctx, id, uri, "the image went back to queued")
			}
		}
		if err := wait.Sleep(ctx); err != nil {
			return fmt.Errorf("waiting for image %s to import %s (it is %s): %w", id, uri, img.Status, err)
		}
	}
}

// importFailed says what can be learnt about a failed import. Glance's task only
// says "Task failed due to Internal Error" whatever went wrong, so the provider
// reads the URL itself.
func (c *Client) importFailed(ctx context.Context, id, uri, how string) error {
	return fmt.Errorf("the image service at %s could not import %s into image %s: %s; %s; %s",
		c.Server(), uri, id, how, c.taskMessage(ctx, id), c.probe(ctx, uri))
}

// taskMessageWait bounds the wait for a failed task's message: Glance may mark the
// image failed a moment before it writes the task's message.
const taskMessageWait = 3 * time.Second

// taskMessage is the message of the image's latest import task, which image
// owners may read (GET /v2/images/{id}/tasks, Glance 23 and newer).
func (c *Client) taskMessage(ctx context.Context, id string) string {
	wctx, cancel := context.WithTimeout(ctx, taskMessageWait)
	defer cancel()
	for wait := backend.NewBackoff(); ; {
		if msg := c.latestTaskMessage(wctx, id); msg != "" {
			return fmt.Sprintf("Glance's task says only %q", msg)
		}
		if wait.Sleep(wctx) != nil {
			return "Glance gives no reason"
		}
	}
}

// latestTaskMessage is the message of the image's latest task, "" when it has none.
func (c *Client) latestTaskMessage(ctx context.Context, id string) string {
	var r struct {
		Tasks []struct {
			Message string `json:"message"`
			// Glance writes its task times without a zone, which time.Time
			// does not read; in one format, they sort as strings.
			UpdatedAt string `json:"updated_at"`
		} `json:"tasks"`
	}
	if _, err := c.image.Get(ctx, c.image.ServiceURL("images", id, "tasks"), &r, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}}); err != nil || len(r.Tasks) == 0 {
		return ""
	}
	sort.Slice(r.Tasks, func(i, j int) bool { return r.Tasks[i].UpdatedAt > r.Tasks[j].UpdatedAt })
	return r.Tasks[0].Message
}

// probeTimeout bounds the provider's own look at a URL that failed to import.
const probeTimeout = 10 * time.Second

// probe reads the start of uri from where the provider runs, which may not be
// where Glance runs, and says what it saw.
func (c *Client) probe(ctx context.Context, uri string) string {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, uri, nil)
	if err != nil {
		return fmt.Sprintf("the URL is not valid: %v", err)
	}
	resp, err := c.http.Stream(req)
	if err != nil {
		return fmt.Sprintf("from where the provider runs, GET %s fails: %v", uri, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 300:
		return fmt.Sprintf("from where the provider runs, GET %s answers %s", uri, resp.Status)
	case resp.ContentLength < 0:
		// Glance 25's web-download reads the Content-Length header and fails
		// without one.
		return fmt.Sprintf("from where the provider runs, GET %s answers %s but without a Content-Length header, which Glance's web-download needs: serve the file with its length", uri, resp.Status)
	}
	return fmt.Sprintf("from where the provider runs, GET %s answers %s, so the image service's own access to it (its proxy, its network) is the likely cause", uri, resp.Status)
}
