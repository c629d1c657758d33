package route53

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// changeID names the change that committed store version v.
func changeID(v uint64) string { return fmt.Sprintf("C%012d", v) }

// parseChangeID returns the version of a change id, with or without /change/.
func parseChangeID(id string) (uint64, bool) {
	s, ok := strings.CutPrefix(bareID(id), "C")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil && v > 0
}

// inSync reports whether version v has reached the data planes: the
// published view holds it (or a later version), and the DNS server, when
// there is one, answers from that view.
func (h *Handler) inSync(v uint64) bool {
	cur := h.views.Load()
	if cur == nil || cur.Version < v {
		return false
	}
	if h.dns == nil {
		return true
	}
	// Sync returns at once when the DNS server has taken in the current
	// view; with a context that has already ended it never waits.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return h.dns.Sync(ctx) == nil
}

func (h *Handler) changeInfo(ctx context.Context, v uint64, at time.Time, comment string) xmlChangeInfo {
	status := "PENDING"
	if h.inSync(v) {
		status = "INSYNC"
	}
	return xmlChangeInfo{ID: "/change/" + changeID(v), Status: status, SubmittedAt: at.UTC().Format(time.RFC3339), Comment: comment}
}

func (h *Handler) getChange(rq *request) error {
	id := rq.r.PathValue("id")
	v, ok := parseChangeID(id)
	if !ok {
		return errorf(http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: %s", bareID(id))
	}
	ctx := rq.r.Context()
	changes, err := h.st.History(ctx, v+1, 1)
	if err != nil {
		return err
	}
	if len(changes) == 0 || changes[0].Version != v {
		return errorf(http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: %s", bareID(id))
	}
	return rq.reply(http.StatusOK, getChangeResponse{ChangeInfo: h.changeInfo(ctx, v, changes[0].Time, "")})
}
