// Package catalog rewrites the service catalog of Keystone's token answers, for the
// proxies that tests and benches put in front of Glance. It has no test-only
// imports, so the bench's tools use it too.
package catalog

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Redirect points every image endpoint in the catalog of a token answer (POST and
// GET /v3/auth/tokens; HEAD and DELETE carry no token document) at front, keeping
// the endpoint's path, and tells seen each endpoint as Keystone gave it. It fixes
// the answer's length; any other answer is left alone.
func Redirect(resp *http.Response, front string, seen func(original *url.URL)) error {
	m := resp.Request.Method
	if resp.Request.URL.Path != "/v3/auth/tokens" || (m != http.MethodPost && m != http.MethodGet) || resp.StatusCode >= 300 {
		return nil
	}
	to, err := url.Parse(front)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	token, _ := doc["token"].(map[string]any)
	services, _ := token["catalog"].([]any)
	for _, s := range services {
		svc, _ := s.(map[string]any)
		if svc["type"] != "image" {
			continue
		}
		eps, _ := svc["endpoints"].([]any)
		for _, e := range eps {
			ep, _ := e.(map[string]any)
			raw, _ := ep["url"].(string)
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				continue
			}
			seen(&url.URL{Scheme: u.Scheme, Host: u.Host})
			u.Scheme, u.Host = to.Scheme, to.Host
			ep["url"] = u.String()
		}
	}
	if body, err = json.Marshal(doc); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
