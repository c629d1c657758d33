package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openT opens a store at path and closes it when the test ends.
func openT(t testing.TB, path string, opt Options) *Bolt {
	t.Helper()
	s, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open(%q) = %v, want a store", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// genState returns a State of n regions and n zones whose names all carry
// the generation gen: regions r<gen>-<i>, zones z<gen>-<i> in region r<gen>-<i>.
func genState(gen uint64, n int) *model.State {
	st := &model.State{}
	for i := range n {
		r := fmt.Sprintf("r%d-%d", gen, i)
		st.Regions = append(st.Regions, model.Region{Name: r})
		st.Zones = append(st.Zones, model.Zone{Name: fmt.Sprintf("z%d-%d", gen, i), Region: r})
	}
	return st
}

// stateGen returns the generation every element of st carries, or an error
// if st is empty, has not n regions and n zones, or mixes generations.
func stateGen(st *model.State, n int) (uint64, error) {
	if len(st.Regions) != n || len(st.Zones) != n {
		return 0, fmt.Errorf("%d regions and %d zones, want %d of each", len(st.Regions), len(st.Zones), n)
	}
	var names []string
	for _, r := range st.Regions {
		names = append(names, r.Name)
	}
	for _, z := range st.Zones {
		names = append(names, z.Name, z.Region)
	}
	var gen uint64
	for i, name := range names {
		g, ok := nameGen(name)
		if !ok {
			return 0, fmt.Errorf("name %q has no generation", name)
		}
		if i > 0 && g != gen {
			return 0, fmt.Errorf("name %q is generation %d, others are %d: a half-applied batch", name, g, gen)
		}
		gen = g
	}
	return gen, nil
}

// nameGen parses the generation out of "r<gen>-<i>" or "z<gen>-<i>".
func nameGen(name string) (uint64, bool) {
	if len(name) < 2 {
		return 0, false
	}
	g, _, ok := strings.Cut(name[1:], "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(g, 10, 64)
	return n, err == nil
}

// commitN commits generations from+1 … to, each conditional on the one before.
func commitN(t testing.TB, s Store, from, to uint64) {
	t.Helper()
	for v := from + 1; v <= to; v++ {
		base := v - 1
		if _, err := s.Commit(t.Context(), Batch{State: genState(v, 3), IfVersion: &base, Source: "test"}); err != nil {
			t.Fatalf("Commit(generation %d) = %v, want nil", v, err)
		}
	}
}

// versions returns the versions of changes, in their order.
func versions(changes []Change) []uint64 {
	var out []uint64
	for _, c := range changes {
		out = append(out, c.Version)
	}
	return out
}

// seq returns from, from+step, … up to and including to.
func seq(from, to uint64) []uint64 {
	var out []uint64
	if from <= to {
		for v := from; v <= to; v++ {
			out = append(out, v)
		}
		return out
	}
	for v := from; v >= to && v > 0; v-- {
		out = append(out, v)
	}
	return out
}

func TestEmptyStore(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head() = %v, want nil", err)
	}
	if diff := cmp.Diff(&Snapshot{State: &model.State{}}, head); diff != "" {
		t.Errorf("Head() of an empty store mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.Get(t.Context(), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(0) = %v, want ErrNotFound", err)
	}
	if h, err := s.History(t.Context(), 0, 10); err != nil || len(h) != 0 {
		t.Errorf("History(0, 10) = %v, %v, want [], nil", h, err)
	}
}

func TestCommitHeadGet(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tick := 0
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{Now: func() time.Time {
		tick++ // called once per commit, under the store's write lock
		return t0.Add(time.Duration(tick) * time.Second)
	}})

	const n = 10
	for v := uint64(1); v <= n; v++ {
		b := Batch{State: genState(v, 5), Source: "api", Author: "ana", Summary: fmt.Sprintf("~zones[%d]", v)}
		got, err := s.Commit(t.Context(), b)
		if err != nil {
			t.Fatalf("Commit(#%d) = %v, want nil", v, err)
		}
		want := &Snapshot{Version: v, State: genState(v, 5), Change: Change{
			Version: v, Time: t0.Add(time.Duration(v) * time.Second).UTC(),
			Source: "api", Author: "ana", Summary: fmt.Sprintf("~zones[%d]", v),
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Commit(#%d) mismatch (-want +got):\n%s", v, diff)
		}
	}
	head, err := s.Head(t.Context())
	if err != nil || head.Version != n {
		t.Fatalf("Head() = %v, %v, want version %d", head, err, n)
	}
	for v := uint64(1); v <= n; v++ {
		got, err := s.Get(t.Context(), v)
		if err != nil {
			t.Fatalf("Get(%d) = %v, want nil", v, err)
		}
		if diff := cmp.Diff(genState(v, 5), got.State); diff != "" || got.Version != v || got.Change.Version != v {
			t.Errorf("Get(%d) = version %d, change %d, state diff (-want +got):\n%s", v, got.Version, got.Change.Version, diff)
		}
	}
	if _, err := s.Get(t.Context(), n+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%d) = %v, want ErrNotFound", n+1, err)
	}
	if _, err := s.Commit(t.Context(), Batch{}); err == nil {
		t.Errorf("Commit(Batch{}) = nil, want an error for the missing state")
	}
}

func TestHistoryPaging(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	commitN(t, s, 0, 10)
	for _, tt := range []struct {
		name   string
		before uint64
		limit  int
		want   []uint64
	}{
		{name: "head/first-page", before: 0, limit: 3, want: seq(10, 8)},
		{name: "middle-page", before: 8, limit: 3, want: seq(7, 5)},
		{name: "last-short-page", before: 3, limit: 10, want: seq(2, 1)},
		{name: "before-first", before: 1, limit: 5, want: nil},
		{name: "before-beyond-head", before: 100, limit: 2, want: seq(10, 9)},
		{name: "before-head", before: 10, limit: 1, want: []uint64{9}},
		{name: "no-limit", before: 0, limit: 0, want: seq(10, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.History(t.Context(), tt.before, tt.limit)
			if err != nil {
				t.Fatalf("History(%d, %d) = %v, want nil", tt.before, tt.limit, err)
			}
			if diff := cmp.Diff(tt.want, versions(got)); diff != "" {
				t.Errorf("History(%d, %d) versions mismatch (-want +got):\n%s", tt.before, tt.limit, diff)
			}
		})
	}

	// Paging with before = the last version seen walks everything once.
	var all []uint64
	for before := uint64(0); ; {
		page, err := s.History(t.Context(), before, 4)
		if err != nil {
			t.Fatalf("History(%d, 4) = %v, want nil", before, err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, versions(page)...)
		before = page[len(page)-1].Version
	}
	if diff := cmp.Diff(seq(10, 1), all); diff != "" {
		t.Errorf("History paged by 4 mismatch (-want +got):\n%s", diff)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	commitN(t, s, 0, 5)
	wantHead, _ := s.Head(t.Context())
	wantHist, _ := s.History(t.Context(), 0, 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	s = openT(t, path, Options{})
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head() after reopen = %v", err)
	}
	if diff := cmp.Diff(wantHead, head); diff != "" {
		t.Errorf("Head() after reopen mismatch (-want +got):\n%s", diff)
	}
	hist, err := s.History(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("History() after reopen = %v", err)
	}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("History() after reopen mismatch (-want +got):\n%s", diff)
	}
	// Numbering continues.
	got, err := s.Commit(t.Context(), Batch{State: genState(6, 1)})
	if err != nil || got.Version != 6 {
		t.Errorf("Commit() after reopen = %v, %v, want version 6", got, err)
	}
}

func TestIfVersion(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	zero := uint64(0)
	if _, err := s.Commit(t.Context(), Batch{State: genState(1, 1), IfVersion: &zero}); err != nil {
		t.Fatalf("Commit(IfVersion 0) on an empty store = %v, want nil", err)
	}

	// Two writers read the same head; the first to commit wins.
	base, _ := s.Head(t.Context())
	v := base.Version
	if _, err := s.Commit(t.Context(), Batch{State: genState(2, 1), IfVersion: &v, Author: "a"}); err != nil {
		t.Fatalf("Commit(writer a, IfVersion %d) = %v, want nil", v, err)
	}
	if _, err := s.Commit(t.Context(), Batch{State: genState(99, 1), IfVersion: &v, Author: "b"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("Commit(writer b, IfVersion %d) = %v, want ErrConflict", v, err)
	}
	head, _ := s.Head(t.Context())
	if g, _ := stateGen(head.State, 1); head.Version != 2 || g != 2 || head.Change.Author != "a" {
		t.Errorf("Head() = version %d generation %d by %q, want version 2 generation 2 by \"a\"", head.Version, g, head.Change.Author)
	}

	// Many writers at once from the same base: exactly one wins.
	const writers = 8
	v = head.Version
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Commit(t.Context(), Batch{State: genState(3, 1), IfVersion: &v})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrConflict):
			t.Errorf("Commit(writer %d) = %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent commits with IfVersion %d won, want 1", won, writers, v)
	}
	if h, _ := s.History(t.Context(), 0, 0); len(h) != 3 {
		t.Errorf("History() has %d changes, want 3", len(h))
	}
}

func TestSnapshotsAreCopies(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	in := genState(1, 2)
	committed, err := s.Commit(t.Context(), Batch{State: in})
	if err != nil {
		t.Fatal(err)
	}
	in.Regions[0].Name = "changed-input"
	committed.State.Regions[0].Name = "changed-commit"
	head, _ := s.Head(t.Context())
	head.State.Zones[0].Name = "changed-head"
	got, _ := s.Get(t.Context(), 1)
	if diff := cmp.Diff(genState(1, 2), got.State); diff != "" {
		t.Errorf("Get(1) after callers modified their copies mismatch (-want +got):\n%s", diff)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	ctx := t.Context()
	if _, err := s.Head(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Head() after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Get(1) after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Commit(ctx, Batch{State: &model.State{}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit() after Close = %v, want ErrClosed", err)
	}
	if _, err := s.History(ctx, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("History() after Close = %v, want ErrClosed", err)
	}
	if _, ok := <-s.Watch(ctx, 0); ok {
		t.Errorf("Watch() after Close delivered a snapshot, want a closed channel")
	}
}

// recv receives n snapshots from ch and returns their versions. It fails the
// test if ch closes or stays silent for 10s (a hang guard, not a sleep).
func recv(t *testing.T, ch <-chan *Snapshot, n int) []uint64 {
	t.Helper()
	got, err := recvErr(ch, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// recvErr is recv for goroutines other than the test's.
func recvErr(ch <-chan *Snapshot, n int) ([]uint64, error) {
	var got []uint64
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case snap, ok := <-ch:
			if !ok {
				return got, fmt.Errorf("watch channel closed after versions %v, want %d versions", got, n)
			}
			if g, err := stateGen(snap.State, 3); err != nil || g != snap.Version || snap.Change.Version != snap.Version {
				return got, fmt.Errorf("watched version %d: generation %d, change %d, err %v; want all %d", snap.Version, g, snap.Change.Version, err, snap.Version)
			}
			got = append(got, snap.Version)
		case <-timeout:
			return got, fmt.Errorf("watch delivered versions %v, then nothing for 10s; want %d versions", got, n)
		}
	}
	return got, nil
}

// closedWithin drains ch and fails the test unless it closes within 10s.
func closedWithin(t *testing.T, ch <-chan *Snapshot) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("watch channel still open after 10s, want closed")
		}
	}
}

func TestWatch(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	ctx := t.Context()

	// fast is read concurrently with the commits; slow is not read until
	// they are done, so it falls behind by the whole run.
	fast, slow := s.Watch(ctx, 0), s.Watch(ctx, 0)
	var fastGot []uint64
	var fastErr error
	var wg sync.WaitGroup
	wg.Go(func() { fastGot, fastErr = recvErr(fast, 40) })

	commitN(t, s, 0, 30)
	// behind starts after 30 commits and asks for everything after 10.
	behind := s.Watch(ctx, 10)
	// future asks for versions after one not committed yet.
	future := s.Watch(ctx, 35)
	commitN(t, s, 30, 40)
	wg.Wait()
	if fastErr != nil {
		t.Fatalf("Watch fast: %v", fastErr)
	}

	for _, tt := range []struct {
		name string
		got  []uint64
		want []uint64
	}{
		{name: "fast", got: fastGot, want: seq(1, 40)},
		{name: "slow", got: recv(t, slow, 40), want: seq(1, 40)},
		{name: "behind", got: recv(t, behind, 30), want: seq(11, 40)},
		{name: "future", got: recv(t, future, 5), want: seq(36, 40)},
	} {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("Watch %s versions mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	// Nothing more is sent until the next commit, and that exactly once.
	commitN(t, s, 40, 41)
	if got := recv(t, slow, 1); got[0] != 41 {
		t.Errorf("Watch slow after commit 41 = %v, want [41]", got)
	}
}

func TestWatchCancel(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	commitN(t, s, 0, 5)
	ctx, cancel := context.WithCancel(t.Context())
	ch := s.Watch(ctx, 0)
	recv(t, ch, 2) // the watcher now blocks sending version 3
	cancel()
	closedWithin(t, ch)

	// A context that has already ended gives a closed channel.
	closedWithin(t, s.Watch(ctx, 0))
}

func TestWatchClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, s, 0, 3)
	blocked := s.Watch(t.Context(), 0) // blocks sending version 1
	idle := s.Watch(t.Context(), 3)    // waits for a commit
	if err := s.Close(); err != nil {  // returns only after both watchers exit
		t.Fatalf("Close() = %v, want nil", err)
	}
	// Close has waited for the watchers, so both channels are closed now.
	for name, ch := range map[string]<-chan *Snapshot{"blocked": blocked, "idle": idle} {
		select {
		case _, ok := <-ch:
			if ok {
				t.Errorf("Watch %s delivered a snapshot after Close returned, want a closed channel", name)
			}
		default:
			t.Errorf("Watch %s channel open after Close returned, want closed", name)
		}
	}
}

func TestRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{Retain: 3})
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, s, 0, 10)
	for v := uint64(1); v <= 11; v++ {
		_, err := s.Get(t.Context(), v)
		if kept := v >= 8 && v <= 10; kept != (err == nil) || (!kept && !errors.Is(err, ErrNotFound)) {
			t.Errorf("Get(%d) with Retain 3 and head 10 = %v, want kept=%t", v, err, kept)
		}
	}
	h, err := s.History(t.Context(), 0, 0)
	if diff := cmp.Diff(seq(10, 1), versions(h)); err != nil || diff != "" {
		t.Errorf("History() after pruning = %v, mismatch (-want +got):\n%s", err, diff)
	}
	// A watcher behind the oldest kept snapshot gets the oldest kept next.
	w, cancel := context.WithCancel(t.Context())
	if diff := cmp.Diff(seq(8, 10), recv(t, s.Watch(w, 2), 3)); diff != "" {
		t.Errorf("Watch(2) after pruning mismatch (-want +got):\n%s", diff)
	}
	cancel()
	s.Close()

	// Lowering Retain prunes the surplus at the next commit.
	s = openT(t, path, Options{Retain: 1})
	commitN(t, s, 10, 11)
	for v := uint64(8); v <= 11; v++ {
		if _, err := s.Get(t.Context(), v); (v == 11) != (err == nil) {
			t.Errorf("Get(%d) with Retain 1 and head 11 = %v, want kept=%t", v, err, v == 11)
		}
	}
}

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	openT(t, path, Options{})
	const timeout = 100 * time.Millisecond
	start := time.Now()
	s, err := Open(path, Options{LockTimeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatalf("second Open(%q) = nil, want an in-use error", path)
	}
	if want := path + " is in use by another switchboard process"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Open(%q) = %q, want it to contain %q", path, err, want)
	}
	if elapsed > timeout+2*time.Second {
		t.Errorf("second Open(%q) took %s, want to give up after LockTimeout %s", path, elapsed, timeout)
	}
}

func TestOpenBadFile(t *testing.T) {
	random := make([]byte, 16<<10)
	rand.Read(random)
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{name: "text", want: "not a switchboard store", setup: func(t *testing.T, path string) {
			write(t, path, []byte("regions:\n  - name: eu-west-1\n"))
		}},
		{name: "zeros", want: "not a switchboard store", setup: func(t *testing.T, path string) {
			write(t, path, make([]byte, 16<<10))
		}},
		{name: "random", want: "not a switchboard store", setup: func(t *testing.T, path string) {
			write(t, path, random)
		}},
		{name: "meta-pages-damaged", want: "not a switchboard store", setup: func(t *testing.T, path string) {
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			commitN(t, s, 0, 3)
			s.Close()
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, off := range []int64{0, 4096} { // both meta pages' checksummed bodies
				if _, err := f.WriteAt([]byte("garbage!"), off+24); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "other-bbolt-database", want: "not a switchboard store", setup: func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err }); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory", want: "", setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			tt.setup(t, path)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil, want an error", path)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("Open(%q) = %q, want \"store: \" and the path and %q", path, msg, tt.want)
			}
			t.Logf("Open(%s) = %v", tt.name, err)
		})
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openT(t, filepath.Join(dir, "s.db"), Options{})
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("Open created parent %s as %v, %v, want a 0700 directory", dir, fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Open left %d entries in %s, want only the store", len(entries), dir)
	}
	s.Close()

	for _, opt := range []Options{{Retain: -1}, {LockTimeout: -time.Second}} {
		if s, err := Open(filepath.Join(t.TempDir(), "s.db"), opt); err == nil {
			s.Close()
			t.Errorf("Open(%+v) = nil, want an error", opt)
		}
	}
}

func BenchmarkCommit(b *testing.B) {
	s := openT(b, filepath.Join(b.TempDir(), "s.db"), Options{})
	st := genState(1, 50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Commit(b.Context(), Batch{State: st, Source: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}
