package transfer

import (
	"errors"
	"hash"
	"sync"
	"sync/atomic"
)

// PipeHash feeds what is written to several hashes, each in its own goroutine, off
// the writer's path: Write hands over a copy and returns, so on a machine with a core
// to spare the hashing of an upload runs beside its sending instead of before it.
// At most pipeDepth chunks wait per hash, so memory stays flat. Wait must follow
// the last Write; the hashes hold their sums only after it.
type PipeHash struct {
	mu     sync.Mutex
	closed bool
	feeds  []chan *pipeChunk
	wg     sync.WaitGroup
	pool   sync.Pool
}

const pipeDepth = 16

type pipeChunk struct {
	b    []byte
	refs atomic.Int32
}

// errPipeClosed is a Write after Wait: an HTTP transport may still read a request
// body after it has an answer, and what it reads then is not part of what was sent.
var errPipeClosed = errors.New("write after the hashes were read")

// NewPipeHash starts one goroutine per hash.
func NewPipeHash(hs ...hash.Hash) *PipeHash {
	p := &PipeHash{}
	p.pool.New = func() any { return &pipeChunk{} }
	for _, h := range hs {
		feed := make(chan *pipeChunk, pipeDepth)
		p.feeds = append(p.feeds, feed)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for c := range feed {
				_, _ = h.Write(c.b)
				if c.refs.Add(-1) == 0 {
					p.pool.Put(c)
				}
			}
		}()
	}
	return p
}

func (p *PipeHash) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errPipeClosed
	}
	c, _ := p.pool.Get().(*pipeChunk)
	c.b = append(c.b[:0], b...)
	c.refs.Store(int32(len(p.feeds)))
	for _, f := range p.feeds {
		f <- c
	}
	return len(b), nil
}

// Wait ends the input and waits until every hash has taken all of it. It may be
// called more than once.
func (p *PipeHash) Wait() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, f := range p.feeds {
			close(f)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}
