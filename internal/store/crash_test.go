package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test kills a real process that is committing as fast as it can
// and checks what it left behind. The child is this test binary, re-run with
// crashChildEnv set to the store's path.
const (
	crashChildEnv = "SWITCHBOARD_STORE_CRASH_CHILD"
	crashElems    = 50 // regions and zones per batch, all of one generation
	crashRetain   = 32 // small, so that pruning runs in most commits
	crashRounds   = 20
)

// TestCrashHelper is the child of TestCrashNeverHalfABatch. It does nothing
// unless crashChildEnv is set. It opens the store, prints "opened <head>",
// then commits generation v as version v, forever, printing "begin v" before
// each commit and "done v" after it, until killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		return
	}
	// Exit rather than fail: the parent reads the exit code and stderr.
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(3)
	}
	s, err := Open(path, Options{Retain: crashRetain, LockTimeout: 10 * time.Second})
	if err != nil {
		fail("Open: %v", err)
	}
	ctx := context.Background()
	head, err := s.Head(ctx)
	if err != nil {
		fail("Head: %v", err)
	}
	fmt.Fprintf(os.Stdout, "opened %d\n", head.Version)
	for v := head.Version; ; v++ {
		next := v + 1
		// Direct writes to the pipe, unbuffered: what the parent reads is
		// what the child had reached when it died.
		fmt.Fprintf(os.Stdout, "begin %d\n", next)
		if _, err := s.Commit(ctx, Batch{
			State:     genState(next, crashElems),
			IfVersion: &v,
			Source:    "crash-test",
			Summary:   "generation " + strconv.FormatUint(next, 10),
		}); err != nil {
			fail("Commit(%d): %v", next, err)
		}
		fmt.Fprintf(os.Stdout, "done %d\n", next)
	}
}

// killMode is when a round kills the child.
type killMode int

const (
	fromStart    killMode = iota // a random instant after it starts, perhaps while it creates or opens the store
	afterCommits                 // right after it reports a random number of commits
	whileRunning                 // a random instant after its first commit, not waiting for output
)

func (m killMode) String() string {
	return [...]string{"from-start", "after-commits", "while-running"}[m]
}

// childReport is what a killed child had printed.
type childReport struct {
	opened      bool   // it had opened the store
	begun, done uint64 // the last "begin" and "done" versions; 0 if none
}

func TestCrashNeverHalfABatch(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the crash child")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "crash.db")

	var head uint64 // after the previous round
	// Where the kills landed, by what the child had printed and what the
	// store says now.
	var beforeOpen, betweenCommits, commitLost, commitKept int
	for round := range crashRounds {
		mode := killMode(round % 3)
		rep := crashChild(t, path, rng, mode)

		// What the child reported fixes the head exactly, except when it
		// died between "begin v" and "done v": then either outcome is
		// right, but nothing in between.
		lo, hi := head, head
		if rep.done > 0 {
			lo, hi = rep.done, rep.done
		}
		if rep.begun > rep.done {
			hi = rep.begun
		}
		head = checkCrashed(t, path, lo, hi)
		switch {
		case !rep.opened:
			beforeOpen++
		case rep.begun == rep.done:
			betweenCommits++
		case head < rep.begun:
			commitLost++
		default:
			commitKept++
		}
		t.Logf("round %d (%s): child opened %t, began %d, finished %d; head %d", round, mode, rep.opened, rep.begun, rep.done, head)
	}
	t.Logf("kills: %d before the store was open, %d between commits, %d inside a commit that was lost, %d after a commit was durable but before the child knew",
		beforeOpen, betweenCommits, commitLost, commitKept)
	if head == 0 {
		t.Errorf("no child committed anything in %d rounds", crashRounds)
	}
}

// crashChild runs one child on path, SIGKILLs it as mode says, and returns
// what it printed.
func crashChild(t *testing.T, path string, rng *rand.Rand, mode killMode) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() { // ends at EOF, which the kill guarantees
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var rep childReport
	// read handles one line; it reports false once the child is gone.
	read := func(line string, ok bool) bool {
		if !ok {
			return false
		}
		verb, num, _ := strings.Cut(line, " ")
		v, err := strconv.ParseUint(num, 10, 64)
		switch {
		case err != nil:
			// Not ours (the test framework's output); ignore.
		case verb == "opened":
			rep.opened = true
		case verb == "begin":
			rep.begun = v
		case verb == "done":
			rep.done = v
		}
		return true
	}
	// waitDone reads until the child has finished n commits.
	waitDone := func(n int) {
		for finished := 0; finished < n; {
			line, ok := <-lines
			if !read(line, ok) {
				cmd.Wait()
				t.Fatalf("crash child exited by itself after %d of %d commits: %v\n%s", finished, n, cmd.ProcessState, stderr.Bytes())
			}
			if strings.HasPrefix(line, "done ") {
				finished++
			}
		}
	}

	// The sleeps below choose a random instant to kill another process;
	// that takes real time, which testing/synctest cannot fake.
	switch mode {
	case afterCommits:
		waitDone(1 + rng.IntN(40))
	case whileRunning:
		waitDone(1)
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
	case fromStart:
		time.Sleep(time.Duration(rng.IntN(10_000)) * time.Microsecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		read(line, true)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("crash child ended with %v, want killed by SIGKILL\n%s", err, stderr.Bytes())
	}
	return rep
}

// checkCrashed opens the store a killed child left behind and checks it
// whole: the head is in [lo, hi] and every element of its state is of the
// head's generation, every kept version is exactly its own generation, the
// history is head..1 without gaps. It returns the head. (The next round's
// child commits with IfVersion = head, which checks that numbering resumes.)
func checkCrashed(t *testing.T, path string, lo, hi uint64) uint64 {
	t.Helper()
	s, err := Open(path, Options{Retain: crashRetain})
	if err != nil {
		t.Fatalf("Open after kill = %v, want the store", err)
	}
	defer s.Close()
	ctx := t.Context()

	head, err := s.Head(ctx)
	if err != nil {
		t.Fatalf("Head() after kill = %v", err)
	}
	h := head.Version
	if h < lo || h > hi {
		t.Fatalf("Head() after kill = version %d, want %d..%d", h, lo, hi)
	}
	if h == 0 {
		return 0
	}
	for v := h; v > 0; v-- {
		snap, err := s.Get(ctx, v)
		if kept := v+crashRetain > h; !kept {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%d) with head %d and Retain %d = %v, want ErrNotFound", v, h, crashRetain, err)
			}
			break
		}
		if err != nil {
			t.Fatalf("Get(%d) with head %d = %v, want the snapshot", v, h, err)
		}
		if gen, err := stateGen(snap.State, crashElems); err != nil || gen != v || snap.Version != v || snap.Change.Version != v {
			t.Fatalf("Get(%d) = version %d, change %d, generation %d (%v); want all %d", v, snap.Version, snap.Change.Version, gen, err, v)
		}
	}
	hist, err := s.History(ctx, 0, 0)
	if err != nil {
		t.Fatalf("History() after kill = %v", err)
	}
	if len(hist) != int(h) {
		t.Fatalf("History() after kill = %d changes, want %d", len(hist), h)
	}
	for i, v := range versions(hist) {
		if v != h-uint64(i) {
			t.Fatalf("History()[%d] = version %d, want %d: a gap", i, v, h-uint64(i))
		}
		if want := "generation " + strconv.FormatUint(v, 10); hist[i].Summary != want {
			t.Fatalf("History()[%d].Summary = %q, want %q", i, hist[i].Summary, want)
		}
	}
	return h
}
