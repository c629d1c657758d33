package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchboard/switchboard/internal/model"
)

var _ Store = (*Bolt)(nil)

// Layout of the file. Keys of snapshots and changes are 8-byte big-endian
// versions, so bbolt's byte order is version order.
var (
	bucketMeta      = []byte("meta")      // keyHead, keyFormat
	bucketSnapshots = []byte("snapshots") // version → JSON of model.State
	bucketChanges   = []byte("changes")   // version → JSON of changeRecord

	keyHead   = []byte("head")   // 8-byte big-endian head version; absent means 0
	keyFormat = []byte("format") // formatV1
)

// formatV1 marks a file as a switchboard store, so that Open can tell our
// file from some other program's bbolt database.
var formatV1 = []byte("switchboard-store-1")

// watchChunk bounds how many snapshots a watcher decodes per read
// transaction, and so the memory a watcher far behind the head holds.
const watchChunk = 16

// Options configures Open. The zero value gives the defaults.
type Options struct {
	// Retain is how many of the newest full snapshots are kept. Older ones
	// are deleted in the transaction of the commit that makes them too old;
	// their change records are kept forever. Default 1000; at least 1.
	Retain int
	// LockTimeout is how long Open waits for the file lock held by another
	// process before failing. Default 1s; must not be negative.
	LockTimeout time.Duration
	// Now is the clock stamped on each Change. Default time.Now.
	Now func() time.Time
}

// Bolt is the embedded Store: one bbolt file, written with one fsynced
// transaction per commit, locked against other processes while open.
type Bolt struct {
	// Immutable after Open.
	db     *bolt.DB
	path   string
	retain uint64
	now    func() time.Time
	done   chan struct{} // closed by Close; stops watchers

	wg sync.WaitGroup // watchers

	mu      sync.Mutex    // guards the fields below
	changed chan struct{} // closed and replaced after every commit
	closed  bool
	// last is the newest commit's snapshot as Commit decoded it: watchers
	// share it rather than decode the same bytes again.
	last *Snapshot
}

// Open opens the store at path, creating the file and its parent directory
// (mode 0700) if they do not exist. It fails if another process holds the
// file for longer than opt.LockTimeout, or if the file is not a switchboard
// store.
func Open(path string, opt Options) (*Bolt, error) {
	if opt.Retain < 0 {
		return nil, fmt.Errorf("store: retain %d is negative, want at least 1 (0 for the default 1000)", opt.Retain)
	}
	if opt.LockTimeout < 0 {
		return nil, fmt.Errorf("store: lock timeout %s is negative", opt.LockTimeout)
	}
	if opt.Retain == 0 {
		opt.Retain = 1000
	}
	if opt.LockTimeout == 0 {
		opt.LockTimeout = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := create(path); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("store: %s is in use by another switchboard process (lock not released within %s): %w", path, opt.LockTimeout, err)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch), errors.Is(err, bolt.ErrInvalidMapping):
		return nil, fmt.Errorf("store: %s is not a switchboard store (not a bbolt database, or corrupt): %w", path, err)
	case errors.As(err, new(*fs.PathError)):
		return nil, fmt.Errorf("store: %w", err) // names the path already
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(initLayout); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Bolt{
		db:      db,
		path:    path,
		retain:  uint64(opt.Retain),
		now:     opt.Now,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}, nil
}

// create makes a new, empty store at path unless a file is there already.
//
// bbolt initialises a new file with plain writes that are not atomic: a
// process killed in the middle, or a power cut before they reach the disk,
// would leave a file at path that no one can open. So the store is built
// under a temporary name and hard-linked into place once it is durable.
// Link, unlike rename, fails if path exists, so two processes creating the
// same store at once cannot replace each other's file. A crash can leave a
// "<name>.new-*" file behind; it is never read and may be deleted.
func create(path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // exists, or bolt.Open will report why it cannot be read
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Close(); err != nil {
		return err
	}
	db, err := bolt.Open(tmp, 0o600, nil) // a size-0 file is initialised and synced
	if err != nil {
		return err
	}
	if err := db.Update(initLayout); err != nil { // fsynced
		db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Make the new name durable.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// initLayout creates the buckets of a new file, or checks that an existing
// file is a switchboard store whose head has its snapshot and change record.
func initLayout(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return errors.New("not a switchboard store (a bbolt database without its meta bucket)")
		}
		for _, name := range [][]byte{bucketMeta, bucketSnapshots, bucketChanges} {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, formatV1)
	}
	if f := meta.Get(keyFormat); !bytes.Equal(f, formatV1) {
		return fmt.Errorf("unknown store format %q, want %q", f, formatV1)
	}
	b, err := bucketsOf(tx)
	if err != nil {
		return err
	}
	head, err := b.head()
	if err != nil {
		return err
	}
	if head == 0 {
		return nil
	}
	if b.snapshots.Get(key(head)) == nil || b.changes.Get(key(head)) == nil {
		return fmt.Errorf("corrupt: head version %d has no snapshot or change record", head)
	}
	if k, _ := b.changes.Cursor().Last(); version(k) != head {
		return fmt.Errorf("corrupt: head is version %d but the newest change record is %d", head, version(k))
	}
	return nil
}

// Head returns the newest version; see Store.
func (s *Bolt) Head(ctx context.Context) (*Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var snap *Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		head, err := b.head()
		if err != nil {
			return err
		}
		if head == 0 {
			snap = &Snapshot{State: &model.State{}}
			return nil
		}
		snap, err = b.snapshot(head)
		return err
	})
	if err != nil {
		return nil, s.wrap("head", err)
	}
	return snap, nil
}

// Get returns one version; see Store.
func (s *Bolt) Get(ctx context.Context, v uint64) (*Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var snap *Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		snap, err = b.snapshot(v)
		return err
	})
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get version %d", v), err)
	}
	return snap, nil
}

// Commit applies a batch in one fsynced bbolt transaction that writes the
// snapshot, the change record and the new head, and deletes the snapshots
// that fall out of Options.Retain. See Store.
func (s *Bolt) Commit(ctx context.Context, batch Batch) (*Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if batch.State == nil {
		return nil, errors.New("store: commit: batch has no state")
	}
	// Encode outside the transaction: it holds the only write lock.
	state, err := json.Marshal(batch.State)
	if err != nil {
		return nil, fmt.Errorf("store: commit: encode state: %w", err)
	}
	var ch Change
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		head, err := b.head()
		if err != nil {
			return err
		}
		if batch.IfVersion != nil && *batch.IfVersion != head {
			return fmt.Errorf("%w: head is version %d, batch expects %d", ErrConflict, head, *batch.IfVersion)
		}
		// Read the clock under the write lock, so that times never go
		// backwards as versions go forwards (unless the wall clock does).
		ch = Change{
			Version: head + 1,
			Time:    s.now().UTC().Round(0),
			Source:  batch.Source,
			Author:  batch.Author,
			Summary: batch.Summary,
		}
		return b.put(ch, state, s.retain)
	})
	if err != nil {
		return nil, s.wrap("commit", err)
	}
	// Hand back a decoded copy, not batch.State: the caller and the
	// watchers get exactly what Get will return later. They share it and
	// must not modify it.
	snap := &Snapshot{Version: ch.Version, State: new(model.State), Change: ch}
	derr := json.Unmarshal(state, snap.State)
	s.mu.Lock()
	if derr == nil {
		s.last = snap
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if derr != nil {
		return nil, fmt.Errorf("store: commit: decode state: %w", derr)
	}
	return snap, nil
}

// History returns change records newest first; see Store.
func (s *Bolt) History(ctx context.Context, before uint64, limit int) ([]Change, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []Change
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		c := b.changes.Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(key(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			ch, err := decodeChange(k, v)
			if err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("history", err)
	}
	return out, nil
}

// Watch streams versions after after; see Store. Each watcher is one
// goroutine owned by the store.
func (s *Bolt) Watch(ctx context.Context, after uint64) <-chan *Snapshot {
	ch := make(chan *Snapshot)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(ch)
		return ch
	}
	// wg.Go under s.mu: Close sets s.closed under s.mu before wg.Wait, so
	// no watcher is added once Close is waiting.
	s.wg.Go(func() {
		defer close(ch)
		s.watch(ctx, after, ch)
	})
	return ch
}

// watch sends every version after last to ch until ctx ends, the store
// closes, or a read fails.
func (s *Bolt) watch(ctx context.Context, last uint64, ch chan<- *Snapshot) {
	for {
		// Take the notification channel before reading, so that a commit
		// landing between the read and the wait still wakes us.
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()

		// Read a chunk, then send it with no transaction open: a reader
		// blocked on a slow receiver must not hold a bbolt read
		// transaction, which would stall a commit that grows the file.
		snaps, err := s.readAfter(last, watchChunk)
		if err != nil {
			return
		}
		for _, snap := range snaps {
			select {
			case ch <- snap:
				last = snap.Version
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
		if len(snaps) == watchChunk {
			continue // maybe more already committed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// readAfter reads up to n kept snapshots with versions above last, oldest first.
// If last+1 has been pruned, it starts at the oldest kept snapshot.
func (s *Bolt) readAfter(last uint64, n int) ([]*Snapshot, error) {
	s.mu.Lock()
	newest := s.last
	s.mu.Unlock()
	if newest != nil && newest.Version == last+1 && n > 0 {
		// The common case: the one version committed since, decoded by
		// its Commit. Anything newer is read on the next round.
		return []*Snapshot{newest}, nil
	}
	var out []*Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		c := b.snapshots.Cursor()
		for k, v := c.Seek(key(last + 1)); k != nil && len(out) < n; k, v = c.Next() {
			snap, err := b.decodeSnapshot(k, v)
			if err != nil {
				return err
			}
			out = append(out, snap)
		}
		return nil
	})
	return out, err
}

// Close stops and waits for the watchers, then closes the file, which
// releases its lock. bbolt's Close waits for transactions in flight.
func (s *Bolt) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()

	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// check returns ErrClosed after Close, or ctx's error if ctx has ended.
func (s *Bolt) check(ctx context.Context) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// wrap adds context to an error from a transaction. Sentinels pass through
// unchanged so that their message is not prefixed twice.
func (s *Bolt) wrap(op string, err error) error {
	switch {
	case errors.Is(err, bolt.ErrDatabaseNotOpen):
		return ErrClosed
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
		return err
	}
	return fmt.Errorf("store: %s %s: %w", op, s.path, err)
}

// buckets are the buckets of one transaction.
type buckets struct {
	meta, snapshots, changes *bolt.Bucket
}

// bucketsOf returns tx's buckets, or an error if the layout is damaged.
func bucketsOf(tx *bolt.Tx) (buckets, error) {
	b := buckets{
		meta:      tx.Bucket(bucketMeta),
		snapshots: tx.Bucket(bucketSnapshots),
		changes:   tx.Bucket(bucketChanges),
	}
	if b.meta == nil || b.snapshots == nil || b.changes == nil {
		return b, errors.New("corrupt: missing bucket")
	}
	return b, nil
}

// head returns the head version, 0 if nothing was committed.
func (b buckets) head() (uint64, error) {
	v := b.meta.Get(keyHead)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("corrupt: head is %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// put writes ch and its state as the new head, then prunes snapshots older
// than the newest retain. It must run in a write transaction.
func (b buckets) put(ch Change, state []byte, retain uint64) error {
	rec, err := json.Marshal(changeRecord{Time: ch.Time, Source: ch.Source, Author: ch.Author, Summary: ch.Summary})
	if err != nil {
		return fmt.Errorf("encode change: %w", err)
	}
	k := key(ch.Version)
	if err := b.snapshots.Put(k, state); err != nil {
		return fmt.Errorf("put snapshot: %w", err)
	}
	if err := b.changes.Put(k, rec); err != nil {
		return fmt.Errorf("put change: %w", err)
	}
	if err := b.meta.Put(keyHead, k); err != nil {
		return fmt.Errorf("put head: %w", err)
	}
	if ch.Version <= retain {
		return nil
	}
	// Usually one snapshot goes; more after Retain was lowered. Re-seek
	// after each delete: bbolt cursors may skip a key after Delete.
	oldest := ch.Version - retain + 1
	c := b.snapshots.Cursor()
	for k, _ := c.First(); k != nil && version(k) < oldest; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("prune snapshot %d: %w", version(k), err)
		}
	}
	return nil
}

// snapshot reads and decodes version v, or returns ErrNotFound.
func (b buckets) snapshot(v uint64) (*Snapshot, error) {
	data := b.snapshots.Get(key(v))
	if data == nil {
		return nil, fmt.Errorf("%w: %d was never committed or has been pruned", ErrNotFound, v)
	}
	return b.decodeSnapshot(key(v), data)
}

// decodeSnapshot decodes the snapshot stored under k, with its change record.
// The result shares no memory with the transaction.
func (b buckets) decodeSnapshot(k, data []byte) (*Snapshot, error) {
	ch, err := decodeChange(k, b.changes.Get(k))
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Version: ch.Version, State: new(model.State), Change: ch}
	if err := json.Unmarshal(data, snap.State); err != nil {
		return nil, fmt.Errorf("decode snapshot %d: %w", ch.Version, err)
	}
	return snap, nil
}

// changeRecord is a Change as stored; the version is its key. Its JSON
// names are the file format, independent of Go field names.
type changeRecord struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source,omitempty"`
	Author  string    `json:"author,omitempty"`
	Summary string    `json:"summary,omitempty"`
}

// decodeChange decodes the change record data stored under key k.
func decodeChange(k, data []byte) (Change, error) {
	v := version(k)
	if data == nil {
		return Change{}, fmt.Errorf("corrupt: version %d has no change record", v)
	}
	var r changeRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return Change{}, fmt.Errorf("decode change %d: %w", v, err)
	}
	return Change{Version: v, Time: r.Time, Source: r.Source, Author: r.Author, Summary: r.Summary}, nil
}

// key encodes a version as a bbolt key.
func key(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// version decodes a bbolt key; a malformed key reads as 0, which no stored
// version has.
func version(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}
