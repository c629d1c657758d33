package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/store"
)

// appliedFile records the configuration file content last applied: its
// SHA-256 and the version that applying it led to. It lives next to the
// store in file-applied.json (see the package documentation for why).
type appliedFile struct {
	SHA256  string `json:"sha256"`
	Version uint64 `json:"version"`
	File    string `json:"file"`
}

// loadFile reads, parses and validates the configuration file and returns
// it with the SHA-256 of its content.
func loadFile(path string) (*model.Document, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		doc, err := config.Load(path) // the same error, in the same shape
		return doc, "", err
	}
	sum := sha256.Sum256(data)
	doc, err := config.Parse(path, data)
	return doc, hex.EncodeToString(sum[:]), err
}

func (s *Server) appliedPath() string { return filepath.Join(s.cfg.DataDir, "file-applied.json") }

func (s *Server) readApplied() appliedFile {
	var a appliedFile
	if data, err := os.ReadFile(s.appliedPath()); err == nil {
		json.Unmarshal(data, &a) // a damaged record means "not applied": the file is applied again
	}
	return a
}

// writeApplied replaces the record atomically (write, sync, rename).
func (s *Server) writeApplied(a appliedFile) error {
	data, _ := json.Marshal(a)
	tmp := s.appliedPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.appliedPath())
}

// apply commits doc's state as a new version, unless the file's content
// (sum) is the one applied last, or its state equals the head. When it
// replaces changes made by other sources since the file was last applied,
// it says so in the log.
//
// A crash between the commit and the record only means the same file is
// applied again at the next start: its state then equals the head, and
// nothing is committed.
func (s *Server) apply(ctx context.Context, st store.Store, doc *model.Document, sum string) error {
	// An API change committed between our read of the head and our commit
	// makes the commit fail; the file still wins, over the newer head.
	for try := 1; ; try++ {
		err := s.applyOnce(ctx, st, doc, sum)
		if !errors.Is(err, store.ErrConflict) || try == 5 {
			return err
		}
	}
}

func (s *Server) applyOnce(ctx context.Context, st store.Store, doc *model.Document, sum string) error {
	head, err := st.Head(ctx)
	if err != nil {
		return err
	}
	last := s.readApplied()
	if last.SHA256 == sum && head.Version > 0 {
		s.log.Info("configuration file unchanged since it was applied; serving the stored state",
			"file_version", last.Version, "version", head.Version)
		return nil
	}
	changes := model.Diff(head.State, &doc.State)
	if len(changes) == 0 && head.Version > 0 {
		s.log.Info("configuration unchanged", "version", head.Version)
		return s.writeApplied(appliedFile{SHA256: sum, Version: head.Version, File: s.cfg.ConfigPath})
	}
	if replaced := s.othersSince(ctx, st, last.Version, head.Version); len(replaced) > 0 {
		s.log.Warn("the changed configuration file replaces changes made since it was last applied",
			"since_version", last.Version, "replaced_versions", strings.Join(replaced, " "), "changes", model.Summary(changes))
	}
	v := head.Version
	snap, err := st.Commit(ctx, store.Batch{
		State:     &doc.State,
		IfVersion: &v,
		Source:    "file",
		Author:    s.cfg.ConfigPath,
		Summary:   model.Summary(changes),
	})
	if err != nil {
		return err
	}
	s.log.Info("configuration applied", "version", snap.Version, "changes", snap.Change.Summary)
	return s.writeApplied(appliedFile{SHA256: sum, Version: snap.Version, File: s.cfg.ConfigPath})
}

// othersSince lists the versions after since, up to head, that did not come
// from the file, as "12(api by ci)". It looks at 1000 versions at most.
func (s *Server) othersSince(ctx context.Context, st store.Store, since, head uint64) []string {
	if head <= since {
		return nil
	}
	n := min(head-since, 1000)
	hist, err := st.History(ctx, 0, int(n))
	if err != nil {
		s.log.Warn("cannot read the history", "err", err)
		return nil
	}
	var out []string
	for i := len(hist) - 1; i >= 0; i-- {
		c := hist[i]
		if c.Version <= since || c.Source == "file" {
			continue
		}
		who := c.Source
		if c.Author != "" {
			who += " by " + c.Author
		}
		out = append(out, strconv.FormatUint(c.Version, 10)+"("+who+")")
	}
	return out
}
