//go:build !linux

package l4proxy

func (l *tcpListener) startInLoop() bool { return false }
func (l *tcpListener) stopInLoop()       {}
func (l *tcpListener) resume()           {}
