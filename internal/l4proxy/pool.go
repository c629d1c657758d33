package l4proxy

import "sync"

// bytesPool hands out buffers of one size.
type bytesPool struct{ p sync.Pool }

func newBytesPool(size int) *bytesPool {
	return &bytesPool{p: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (p *bytesPool) get() *[]byte  { return p.p.Get().(*[]byte) }
func (p *bytesPool) put(b *[]byte) { p.p.Put(b) }
