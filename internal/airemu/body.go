package airemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// body is a request's JSON object, read field by field so that each field gets
// the type check and message Django REST framework would give it. Fields the
// endpoint does not know are ignored, as there.
type body map[string]json.RawMessage

// maxBody bounds an API request body; the API's bodies are small.
const maxBody = 1 << 20

func readBody(r *http.Request) (body, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("Could not read the request body: %v", err)
	}
	if len(raw) > maxBody {
		return nil, badRequest("The request body is larger than %d bytes.", maxBody)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body{}, nil
	}
	// Django REST framework parses only the media types it has parsers for: a
	// client that forgets the Content-Type gets a 415, not its JSON read.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, detail: fmt.Sprintf("Unsupported media type %q in request.", r.Header.Get("Content-Type"))}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badRequest("JSON parse error - %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, badRequest("Invalid data. Expected a dictionary, but got %s.", jsonKind(v))
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, badRequest("JSON parse error - %v", err)
	}
	return b, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "str"
	case float64:
		return "int"
	case bool:
		return "bool"
	case nil:
		return "NoneType"
	}
	return "dict"
}

func (b body) has(name string) bool {
	_, ok := b[name]
	return ok
}

func (b body) isNull(name string) bool {
	return string(bytes.TrimSpace(b[name])) == "null"
}

// str reads a string field of min to max characters (max 0: no limit).
func (b body) str(name string, minLen, maxLen int) (string, *apiError) {
	if b.isNull(name) {
		return "", badRequest("%s: This field may not be null.", name)
	}
	var s string
	if err := json.Unmarshal(b[name], &s); err != nil {
		return "", badRequest("%s: Not a valid string.", name)
	}
	n := len([]rune(s))
	switch {
	case n == 0 && minLen > 0:
		return "", badRequest("%s: This field may not be blank.", name)
	case n < minLen:
		return "", badRequest("%s: Ensure this field has at least %d characters.", name, minLen)
	case maxLen > 0 && n > maxLen:
		return "", badRequest("%s: Ensure this field has no more than %d characters.", name, maxLen)
	}
	return s, nil
}

// nullableStr reads a string field that may be null.
func (b body) nullableStr(name string) (*string, *apiError) {
	if b.isNull(name) {
		return nil, nil
	}
	s, err := b.str(name, 0, 0)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func (b body) boolean(name string) (bool, *apiError) {
	var v bool
	if b.isNull(name) || json.Unmarshal(b[name], &v) != nil {
		return false, badRequest("%s: Must be a valid boolean.", name)
	}
	return v, nil
}

func (b body) integer(name string) (int64, *apiError) {
	var v int64
	if b.isNull(name) || json.Unmarshal(b[name], &v) != nil {
		return 0, badRequest("%s: A valid integer is required.", name)
	}
	return v, nil
}

func (b body) strList(name string) ([]string, *apiError) {
	var v []string
	if b.isNull(name) || json.Unmarshal(b[name], &v) != nil {
		return nil, badRequest("%s: Expected a list of strings.", name)
	}
	if v == nil {
		v = []string{}
	}
	for _, s := range v {
		if s == "" {
			return nil, badRequest("%s: This field may not be blank.", name)
		}
	}
	return v, nil
}

func (b body) resources(name string) (resources, *apiError) {
	var m map[string]json.RawMessage
	if b.isNull(name) || json.Unmarshal(b[name], &m) != nil {
		return resources{}, badRequest("%s: Invalid data. Expected a dictionary.", name)
	}
	sub := body(m)
	var out resources
	for _, f := range []struct {
		key string
		dst *int64
	}{{"cpu", &out.CPU}, {"memory", &out.Memory}, {"storage", &out.Storage}} {
		if !sub.has(f.key) {
			return resources{}, badRequest("%s.%s: This field is required.", name, f.key)
		}
		v, err := sub.integer(f.key)
		if err != nil {
			return resources{}, badRequest("%s.%s: A valid integer is required.", name, f.key)
		}
		if v < 1 {
			return resources{}, badRequest("%s.%s: Ensure this value is greater than or equal to 1.", name, f.key)
		}
		*f.dst = v
	}
	return out, nil
}

// datetime reads an RFC 3339 timestamp, "Z" or an offset, any fraction: what the
// SDK writes.
func (b body) datetime(name string) (time.Time, *apiError) {
	var s string
	if b.isNull(name) || json.Unmarshal(b[name], &s) != nil {
		return time.Time{}, badRequest("%s: Datetime has wrong format.", name)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("%s: Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].", name)
	}
	return t.UTC(), nil
}
