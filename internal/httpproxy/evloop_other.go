//go:build !linux

package httpproxy

// evLoop is Linux-only: elsewhere the fast path runs a goroutine per
// connection.
type evLoop struct{}

func (fs *fastServer) startLoops() bool     { return false }
func (fs *fastServer) stopLoops(force bool) {}
func (fs *fastServer) loopClients() int     { return 0 }
