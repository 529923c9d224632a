package airemu

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultLimit is the page size when a list request names none.
const defaultLimit = 100

// page is a list answer of Django REST framework's LimitOffsetPagination.
type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// paginate cuts the page the request's limit and offset name out of items, with
// absolute next and previous links that keep the request's other parameters. As
// in Django REST framework, a limit that is not a positive integer is the default
// one and an offset that is not a non-negative integer is 0.
func paginate[T any](r *http.Request, items []T) page[T] {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = defaultLimit
	}
	offset, err := strconv.Atoi(q.Get("offset"))
	if err != nil || offset < 0 {
		offset = 0
	}
	p := page[T]{Count: len(items), Results: []T{}}
	if offset < len(items) {
		p.Results = items[offset:min(offset+limit, len(items))]
	}
	link := func(offset int) *string {
		u := url.URL{Path: r.URL.Path}
		v := r.URL.Query()
		v.Set("limit", strconv.Itoa(limit))
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		} else {
			v.Del("offset")
		}
		u.RawQuery = v.Encode()
		s := baseURL(r) + u.String()
		return &s
	}
	if offset+limit < len(items) {
		p.Next = link(offset + limit)
	}
	if offset > 0 {
		p.Previous = link(max(offset-limit, 0))
	}
	return p
}

// filter turns a query parameter's value into a predicate, or says why the value
// is not valid.
type filter[T any] func(value string) (func(T) bool, *apiError)

// filterList keeps the items every filter named in q accepts.
func filterList[T any](q url.Values, items []T, filters map[string]filter[T]) ([]T, *apiError) {
	names := make([]string, 0, len(filters))
	for name := range filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !q.Has(name) {
			continue
		}
		match, err := filters[name](q.Get(name))
		if err != nil {
			err.detail = name + ": " + err.detail
			return nil, err
		}
		items = slices.DeleteFunc(items, func(item T) bool { return !match(item) })
	}
	return items, nil
}

func exact[T any](get func(T) string) filter[T] {
	return func(v string) (func(T) bool, *apiError) {
		return func(item T) bool { return get(item) == v }, nil
	}
}

func choice[T any](allowed []string, get func(T) string) filter[T] {
	return func(v string) (func(T) bool, *apiError) {
		if !contains(allowed, v) {
			return nil, badRequest("Select a valid choice. %s is not one of the available choices.", v)
		}
		return func(item T) bool { return get(item) == v }, nil
	}
}

// boolean is a boolean filter; the SDK sends Python's True and False.
func boolean[T any](get func(T) bool) filter[T] {
	return func(v string) (func(T) bool, *apiError) {
		var want bool
		switch v {
		case "True", "true", "1":
			want = true
		case "False", "false", "0":
		default:
			return nil, badRequest("Select a valid choice. %s is not one of the available choices.", v)
		}
		return func(item T) bool { return get(item) == want }, nil
	}
}

// sortList orders items by the comma-separated fields of ordering ("-" for
// descending; unknown fields are ignored, as Django REST framework's OrderingFilter
// does), "created" when none is valid, and by id last so pages are stable.
func sortList[T any](ordering string, items []T, fields map[string]func(a, b T) int) {
	var keys []func(a, b T) int
	for _, term := range strings.Split(ordering, ",") {
		term = strings.TrimSpace(term)
		desc := strings.HasPrefix(term, "-")
		by, ok := fields[strings.TrimPrefix(term, "-")]
		if !ok {
			continue
		}
		if desc {
			keys = append(keys, func(a, b T) int { return by(b, a) })
		} else {
			keys = append(keys, by)
		}
	}
	if len(keys) == 0 {
		keys = append(keys, fields["created"])
	}
	keys = append(keys, fields["id"])
	slices.SortStableFunc(items, func(a, b T) int {
		for _, key := range keys {
			if c := key(a, b); c != 0 {
				return c
			}
		}
		return 0
	})
}

func byString[T any](get func(T) string) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(get(a), get(b)) }
}

func byInt[T any](get func(T) int64) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(get(a), get(b)) }
}

func byTime[T any](get func(T) time.Time) func(a, b T) int {
	return func(a, b T) int { return get(a).Compare(get(b)) }
}

func byBool[T any](get func(T) bool) func(a, b T) int {
	rank := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return func(a, b T) int { return cmp.Compare(rank(get(a)), rank(get(b))) }
}
