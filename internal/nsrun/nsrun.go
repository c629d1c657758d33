// Package nsrun runs a function inside a network namespace.
//
// A Linux thread, not a process, has a network namespace, and the Go
// runtime moves goroutines between threads. In runs fn on a goroutine
// locked to its thread, switches that thread into the namespace, and
// switches it back afterwards. Sockets fn opens stay in the namespace for
// life, whichever thread serves them later; what fn starts on other
// goroutines does not run in the namespace.
package nsrun

import (
	"fmt"
	"runtime"

	vnetns "github.com/vishvananda/netns"
)

// In runs fn on a thread switched into ns, or right here when ns is not
// open (the process's own namespace). When the thread cannot be switched
// back it stays locked and ends with its goroutine, rather than running
// other code in the wrong namespace.
func In(ns vnetns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- fmt.Errorf("nsrun: the thread's namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := vnetns.Set(ns); err != nil {
			errc <- fmt.Errorf("nsrun: enter namespace: %w", err)
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			errc <- fmt.Errorf("nsrun: back to the original namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
