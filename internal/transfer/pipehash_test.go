package transfer

import (
	"bytes"
	"crypto/md5" //nolint:gosec // compared with itself, as Glance's checksum is
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"io"
	"math/rand/v2"
	"testing"
)

// The piped sums are those of the whole input, whatever the sizes of the writes, and
// a write after Wait is refused rather than hashed.
func TestPipeHash(t *testing.T) {
	data := make([]byte, 3<<20+17)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	hs := []hash.Hash{md5.New(), sha256.New(), sha512.New()} //nolint:gosec // see the import
	p := NewPipeHash(hs...)
	for r := bytes.NewReader(data); r.Len() > 0; {
		chunk := make([]byte, 1+rng.IntN(70000))
		n, _ := r.Read(chunk)
		if _, err := p.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
	}
	p.Wait()
	p.Wait()
	for i, want := range []hash.Hash{md5.New(), sha256.New(), sha512.New()} { //nolint:gosec // see the import
		_, _ = io.Copy(want, bytes.NewReader(data))
		if !bytes.Equal(hs[i].Sum(nil), want.Sum(nil)) {
			t.Fatalf("hash %d differs from a direct one", i)
		}
	}
	if _, err := p.Write([]byte("late")); err == nil {
		t.Fatal("a write after Wait was accepted")
	}
}

func BenchmarkPipeHash(b *testing.B) {
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	p := NewPipeHash(md5.New(), sha256.New(), sha512.New()) //nolint:gosec // see the import
	for b.Loop() {
		_, _ = p.Write(buf)
	}
	p.Wait()
}
