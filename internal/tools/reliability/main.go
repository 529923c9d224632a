// Command reliability renders bench/reliability.md from the rows the reliability
// tests record with acctest.Measure (JSON lines {section, item, test, values}) and
// from bench/load.jsonl, which scripts/bench-load.sh writes in the same shape:
//
//	reliability [-o FILE] ROWS.jsonl...
//
// A file that does not exist counts as no rows: a section nobody measured is
// rendered as "not measured", never left out and never filled in.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("reliability", flag.ContinueOnError)
	out := flags.String("o", "", "`file` to write (default: standard output)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var rows []row
	for _, path := range flags.Args() {
		rs, err := readRows(path)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	var buf bytes.Buffer
	render(&buf, machine(), rows)
	if *out == "" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

// row is one acctest.Row, its values in the order the file holds them.
type row struct {
	Section, Item, Test string
	Values              []value
}

type value struct{ Key, Val string }

// readRows reads a file of JSON lines; a missing file holds no rows.
func readRows(path string) ([]row, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r, err := parseRow(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func parseRow(line []byte) (row, error) {
	var raw struct {
		Section string          `json:"section"`
		Item    string          `json:"item"`
		Test    string          `json:"test"`
		Values  json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return row{}, err
	}
	if raw.Section == "" || raw.Item == "" {
		return row{}, errors.New("a row needs a section and an item")
	}
	r := row{Section: raw.Section, Item: raw.Item, Test: raw.Test}
	if len(raw.Values) == 0 || string(raw.Values) == "null" {
		return r, nil
	}
	// Decoded token by token: a map would lose the order the writer chose.
	dec := json.NewDecoder(bytes.NewReader(raw.Values))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return row{}, errors.New("values must be an object of strings")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return row{}, err
		}
		k, ok := t.(string)
		if !ok {
			return row{}, fmt.Errorf("values: a key expected, found %v", t)
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return row{}, fmt.Errorf("value %q: %w", k, err)
		}
		r.Values = append(r.Values, value{Key: k, Val: v})
	}
	return r, nil
}

// sections are the issue's, in its order, each with what it shows.
var sections = []struct{ name, title, about string }{
	{"faults", "Faults on the wire", "A fault-injecting proxy between the provider and each backend; a configuration applied through it must converge with no duplicate and no orphan."},
	{"crashes", "Crashes", "terraform or the provider killed (or interrupted) mid-upload, then applied again: it converges and leaves no orphan."},
	{"bad-input", "Bad input", "Invalid configurations, each with its diagnostic: no panic, no raw Go error, no stack trace."},
	{"secrets", "Secrets", "Every secret the provider takes, applied with TF_LOG=TRACE: what reaches the logs and the state; TLS verified by default."},
	{"load", "Load", "One large configuration on a single machine, from `scripts/bench-load.sh` (`make bench`); bench/load.md notes that run's machine and date, and lists the routes."},
}

// machine describes where the rows were rendered (the tests ran there too).
func machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kib); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kib)/(1<<20))
		}
	}
	kernel := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel += " " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s on %d cores%s, kernel %s, %s", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), mem, kernel, runtime.Version())
}

// render writes the page: one table per section, the sections first, then
// any other section the rows name. Within a section rows keep their order per test,
// tests sorted by name; a row given again for the same test and item replaces the
// earlier one (a rerun appended to the same log).
func render(w io.Writer, machine string, rows []row) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	p("<!-- Generated by `make reliability` (internal/tools/reliability): do not edit; run `make reliability` to regenerate. -->\n")
	p("# Reliability\n\n")
	p("Generated by `make reliability`, which runs the reliability tests with `IMAGEFLEET_RELIABILITY_LOG` set and renders the rows they record (`acctest.Measure`) and bench/load.jsonl; run it again to regenerate. Measured values, not expectations.\n\n")
	p("Rendered %s.\n", machine)

	bySection := map[string][]row{}
	for _, r := range dedupe(rows) {
		bySection[r.Section] = append(bySection[r.Section], r)
	}
	known := map[string]bool{}
	for _, s := range sections {
		known[s.name] = true
		p("\n## %s\n\n%s\n\n", s.title, s.about)
		table(w, bySection[s.name])
	}
	var others []string
	for name := range bySection {
		if !known[name] {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	for _, name := range others {
		p("\n## %s\n\n", name)
		table(w, bySection[name])
	}
}

func dedupe(rows []row) []row {
	last := map[[3]string]int{}
	for i, r := range rows {
		last[[3]string{r.Section, r.Test, r.Item}] = i
	}
	var out []row
	for i, r := range rows {
		if last[[3]string{r.Section, r.Test, r.Item}] == i {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Test < out[j].Test })
	return out
}

// table writes one section's rows: the item, then a column per value key in the
// order they first appear, then the test that measured it.
func table(w io.Writer, rows []row) {
	if len(rows) == 0 {
		_, _ = fmt.Fprintln(w, "Not measured: no row was recorded for this section.")
		return
	}
	var keys []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, v := range r.Values {
			if !seen[v.Key] {
				seen[v.Key] = true
				keys = append(keys, v.Key)
			}
		}
	}
	head := append(append([]string{"item"}, keys...), "test")
	line := func(cells []string) {
		for i, c := range cells {
			cells[i] = cell(c)
		}
		_, _ = fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	line(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	_, _ = fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
	for _, r := range rows {
		cells := make([]string, 0, len(head))
		cells = append(cells, r.Item)
		for _, k := range keys {
			v := ""
			for _, kv := range r.Values {
				if kv.Key == k {
					v = kv.Val
				}
			}
			cells = append(cells, v)
		}
		line(append(cells, r.Test))
	}
}

// cell keeps a value inside its table cell: no pipe, no line break.
func cell(s string) string {
	s = strings.ReplaceAll(s, `|`, `\|`)
	s = strings.ReplaceAll(s, "\r\n", "<br>")
	return strings.ReplaceAll(s, "\n", "<br>")
}
