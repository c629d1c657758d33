package httpproxy

import (
	"net/http"
	"net/netip"
	"strconv"

	"github.com/switchboard/switchboard/internal/model"
)

// RouteResult is the rule of a listener that a request matches.
type RouteResult struct {
	// Priority is the matching rule's priority, 0 for the default action.
	Priority int
	// Action is what that rule (or the default) does.
	Action *model.Action
}

// Route says which rule of listener l (of balancer lb) the proxy would
// apply to r coming from src: the listener is compiled into the same
// table the proxy serves with and matched by the same code, so a what-if
// answer and the proxy cannot disagree. r's Host, Method, URL.Path,
// URL.RawQuery and Header are what rules look at. Route does no I/O and
// keeps nothing; it costs one compilation of the listener.
func Route(lb string, l *model.Listener, r *http.Request, src netip.Addr) RouteResult {
	t := compileTable(lb, l, nil)
	ru := t.match(r, hostOnly(r.Host), src.Unmap())
	if ru == &t.def {
		return RouteResult{Action: &l.DefaultAction}
	}
	// Priorities are unique within a listener (model validation), and the
	// compiled rule is named by its priority.
	for i := range l.Rules {
		if ru.name == strconv.Itoa(l.Rules[i].Priority) {
			return RouteResult{Priority: l.Rules[i].Priority, Action: &l.Rules[i].Action}
		}
	}
	return RouteResult{Action: &l.DefaultAction} // unreachable for a valid listener
}
