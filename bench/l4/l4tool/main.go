// Command l4tool is bench/l4's helper: it runs internal/l4proxy from a
// configuration file alone (no store, no health checks: every target is
// healthy), holds idle connections as a backend, and opens idle connections
// as a client.
//
//	l4tool proxy CONFIG.yaml
//	l4tool hold ADDR[,ADDR...]
//	l4tool idle -to ADDR -n N -src 127.0.0.2,127.0.0.3,...
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/l4proxy"
	"github.com/switchboard/switchboard/internal/view"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: l4tool proxy CONFIG | hold ADDRS | idle -to ADDR -n N -src ADDRS")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "proxy":
		err = proxy(ctx, os.Args[2])
	case "hold":
		err = hold(ctx, strings.Split(os.Args[2], ","))
	case "idle":
		err = idle(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "l4tool:", err)
		os.Exit(1)
	}
}

func proxy(ctx context.Context, path string) error {
	doc, err := config.Load(path)
	if err != nil {
		return err
	}
	// L4TOOL_CPUPROFILE=FILE writes a CPU profile of the whole run.
	if f := os.Getenv("L4TOOL_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	p := l4proxy.New(l4proxy.Config{})
	if err := p.Apply(view.Build(1, &doc.State, state.NewSnapshot(1, nil), time.Now())); err != nil {
		return err
	}
	fmt.Println("ready")
	go p.Run(ctx)
	// SIGUSR1 collects garbage, returns free memory to the system and
	// prints the Go runtime's memory use, for bench/l4's settled
	// per-connection figure.
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	for {
		select {
		case <-usr:
			runtime.GC()
			debug.FreeOSMemory()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintf(os.Stderr, "goroutines %d heap_inuse %d stack_inuse %d sys %d\n",
				runtime.NumGoroutine(), m.HeapInuse, m.StackInuse, m.Sys)
			continue
		case <-ctx.Done():
		}
		break
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p.Shutdown(sctx)
	return nil
}

// hold accepts connections on addrs and keeps them open, reading nothing.
func hold(ctx context.Context, addrs []string) error {
	var mu sync.Mutex
	var conns []net.Conn
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

// idle opens n connections to addr from the source addresses in turn,
// prints "open N" once they are all established, and holds them until
// stdin closes or a signal comes.
func idle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	to := fs.String("to", "", "address to connect to")
	n := fs.Int("n", 1000, "connections")
	srcs := fs.String("src", "127.0.0.1", "comma-separated source addresses")
	workers := fs.Int("workers", 64, "connections opened at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src := strings.Split(*srcs, ",")
	conns := make([]net.Conn, *n)
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	next := make(chan int)
	for range *workers {
		wg.Go(func() {
			for i := range next {
				d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src[i%len(src)])}}
				c, err := d.Dial("tcp", *to)
				if err != nil {
					select {
					case errs <- fmt.Errorf("connection %d: %w", i, err):
					default:
					}
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Printf("open %d\n", *n)
	done := make(chan struct{})
	go func() { buf := make([]byte, 1); os.Stdin.Read(buf); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}
