// Package store keeps switchboard's desired state as a sequence of numbered,
// immutable versions, each made by one atomic change batch and recorded in a
// history that says when, from where, by whom and what changed.
//
// Store is the contract every backend keeps; Bolt is the embedded backend
// over a single bbolt file. A clustered backend (etcd) will implement the
// same interface.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// Sentinel errors. Methods wrap them with detail; test with errors.Is.
var (
	// ErrConflict means a Batch's IfVersion was not the head when the batch
	// was applied: someone else committed first. Nothing was written.
	ErrConflict = errors.New("store: version conflict")
	// ErrNotFound means the version was never committed or its snapshot has
	// been pruned (see Options.Retain).
	ErrNotFound = errors.New("store: version not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Store is versioned desired state. Every version is a complete model.State
// made by one Commit; versions are never edited.
//
// An implementation guarantees:
//
//   - Atomicity. A Commit is applied whole or not at all, even if the process
//     is killed or the machine loses power at any instant. After a restart the
//     head is either the state before the batch or the state after it, never
//     a mixture, and the batch's change record exists exactly when its
//     snapshot does.
//   - Numbering. Versions are 1, 2, 3, … with no gaps, assigned in the order
//     commits take effect. A version number is never reused, also across
//     restarts and pruning: the head never goes backwards.
//   - Compare-and-swap. A Commit with IfVersion set succeeds only if the head
//     is exactly *IfVersion at the moment the batch applies; otherwise it
//     fails with ErrConflict and writes nothing.
//   - Delivery. A watcher receives every version committed after the one it
//     asked for, in increasing order, each exactly once. The only exception
//     is a version whose snapshot was pruned before the watcher got to it:
//     the watcher then receives the oldest version still kept and carries on
//     from there, so it may skip, but never reorders or repeats.
//   - Ownership. Close stops and waits for every goroutine the store started,
//     closes every watch channel, and releases the data (for Bolt, the file
//     and its lock) so that another process may open it.
//
// All methods are safe for concurrent use. After Close, methods return
// ErrClosed and Watch returns a closed channel.
//
// A *Snapshot from Head or Get is the caller's own copy, decoded for that
// call: the caller may modify it without affecting the store or other
// callers. The snapshots Commit returns and Watch delivers may be shared
// between the committer and every watcher, and must not be modified.
type Store interface {
	// Head returns the newest version. When nothing has been committed yet it
	// returns Version 0 with an empty, non-nil State and a zero Change.
	Head(ctx context.Context) (*Snapshot, error)

	// Get returns the given version, or an error wrapping ErrNotFound if it
	// was never committed (including version 0) or has been pruned.
	Get(ctx context.Context, version uint64) (*Snapshot, error)

	// Commit applies b as the next version and returns that version as
	// stored. It fails with ErrConflict if b.IfVersion is set and is not the
	// head. A commit that has started is not interrupted by ctx: ctx is
	// checked before it starts, and a commit is short.
	Commit(ctx context.Context, b Batch) (*Snapshot, error)

	// History returns change records newest first: those with a version
	// below before (before 0 means from the head, inclusive), at most limit
	// of them (limit <= 0 means all). Change records are kept for every
	// version ever committed, also when the snapshot has been pruned, so
	// paging with before = the last returned version walks the whole
	// history without gaps.
	History(ctx context.Context, before uint64, limit int) ([]Change, error)

	// Watch returns a channel that receives every version after after, in
	// order: first the versions already committed (after+1 … head), then
	// each new one as it is committed. Sends block until the caller
	// receives, so a slow watcher never loses versions and never slows down
	// Commit or other watchers; it only falls behind. If a version it still
	// needs has been pruned, it receives the oldest kept version next (see
	// Store). The channel is closed when ctx ends, when the store closes,
	// or if the store cannot read a version (a caller that sees the channel
	// closed while ctx is live may Watch again from the last version it got).
	Watch(ctx context.Context, after uint64) <-chan *Snapshot

	// Close stops the watchers, waits for them, and releases the data.
	// Calling it more than once is harmless; later calls return nil.
	Close() error
}

// Batch is one atomic change: the complete new desired state plus who made
// it and why. The store never merges batches; State replaces the head.
type Batch struct {
	// State is the complete desired state of the new version. Required.
	// The store encodes it during Commit and keeps no reference to it.
	State *model.State
	// IfVersion, when set, makes the commit conditional: it applies only if
	// the head is exactly this version (0 means "only if nothing was ever
	// committed"). This is how a read-modify-write cycle avoids losing a
	// concurrent change.
	IfVersion *uint64
	// Source says where the change came from: "file", "api", "rollback", …
	Source string
	// Author says who made the change, when known.
	Author string
	// Summary says what changed, in one line written by the caller, such as
	// "+target_groups[web] ~zones[a]".
	Summary string
}

// Change describes one committed version: when it was made and by whom. It
// is kept forever, also after the version's snapshot has been pruned.
type Change struct {
	// Version is the version this change produced.
	Version uint64
	// Time is when the change was committed, in UTC, from Options.Now.
	Time time.Time
	// Source, Author and Summary are copied from the Batch.
	Source, Author, Summary string
}

// Snapshot is one version of the desired state.
type Snapshot struct {
	// Version is the version number; 0 only for the empty head of a store
	// nothing has been committed to.
	Version uint64
	// State is the desired state at Version. Never nil.
	State *model.State
	// Change is the record of the commit that made Version.
	Change Change
}
