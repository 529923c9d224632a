package acctest

import (
	"encoding/json"
	"os"
	"sync"
	"testing"
)

// ReliabilityLogEnv names the file Measure appends to. make reliability sets it,
// runs the reliability tests and benches, and renders the rows into
// bench/reliability.md.
const ReliabilityLogEnv = "IMAGEFLEET_RELIABILITY_LOG"

// Row is one measured line of bench/reliability.md: the section of the issue it
// answers (faults, crashes, bad-input, secrets, load), what was measured, and the
// values seen, by column name.
type Row struct {
	Section string            `json:"section"`
	Item    string            `json:"item"`
	Test    string            `json:"test"`
	Values  map[string]string `json:"values"`
}

var reliabilityMu sync.Mutex

// Measure records what a test saw for bench/reliability.md when ReliabilityLogEnv is
// set, and logs it either way. Values are observations, never the expectation.
func Measure(t testing.TB, section, item string, values map[string]string) {
	t.Helper()
	row := Row{Section: section, Item: item, Test: t.Name(), Values: values}
	line, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reliability: %s", line)
	path := os.Getenv(ReliabilityLogEnv)
	if path == "" {
		return
	}
	reliabilityMu.Lock()
	defer reliabilityMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("reliability log: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Fatalf("reliability log: %v", err)
	}
}
