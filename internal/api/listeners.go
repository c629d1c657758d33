package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/switchboard/switchboard/internal/model"
)

// Listeners and their rules live under their load balancer, a listener
// named by its port and a rule by its priority:
//
//	GET|PUT|DELETE load_balancers/{lb}/listeners/{port}
//	GET|PUT|DELETE load_balancers/{lb}/listeners/{port}/rules/{priority}
//
// PUT creates or replaces; a listener written without "rules" keeps its rules.

func (a *API) listenerRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	base := Prefix + "load_balancers/{lb}/listeners/{port}"
	handle("GET "+base, a.getListener)
	handle("PUT "+base, a.putListener)
	handle("DELETE "+base, a.deleteListener)
	handle("GET "+base+"/rules/{priority}", a.getRule)
	handle("PUT "+base+"/rules/{priority}", a.putRule)
	handle("DELETE "+base+"/rules/{priority}", a.deleteRule)
}

func pathInt(r *http.Request, name string) (int, error) {
	n, err := strconv.Atoi(r.PathValue(name))
	if err != nil {
		return 0, badRequest(name, "%q is not a number", r.PathValue(name))
	}
	return n, nil
}

// listenerAt finds the balancer and the index of its listener on port.
func listenerAt(s *model.State, lb string, port int) (*model.LoadBalancer, int, error) {
	i := slices.IndexFunc(s.LoadBalancers, func(l model.LoadBalancer) bool { return l.Name == lb })
	if i < 0 {
		return nil, -1, notFound("load balancer %q does not exist", lb)
	}
	b := &s.LoadBalancers[i]
	return b, slices.IndexFunc(b.Listeners, func(l model.Listener) bool { return l.Port == port }), nil
}

func (a *API) readListener(r *http.Request) (*model.Listener, uint64, error) {
	port, err := pathInt(r, "port")
	if err != nil {
		return nil, 0, err
	}
	head, err := a.cfg.Store.Head(r.Context())
	if err != nil {
		return nil, 0, err
	}
	b, j, err := existingListener(head.State, r.PathValue("lb"), port)
	if err != nil {
		return nil, 0, err
	}
	return &b.Listeners[j], head.Version, nil
}

func (a *API) getListener(w http.ResponseWriter, r *http.Request) error {
	l, v, err := a.readListener(r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(v))
	return writeJSON(w, http.StatusOK, l)
}

func (a *API) putListener(w http.ResponseWriter, r *http.Request) error {
	port, err := pathInt(r, "port")
	if err != nil {
		return err
	}
	var l model.Listener
	if err := decode(r, &l); err != nil {
		return err
	}
	if l.Port == 0 {
		l.Port = port
	}
	if l.Port != port {
		return badRequest("port", "the body is port %d but the path %d", l.Port, port)
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		b, j, err := listenerAt(s, r.PathValue("lb"), port)
		if err != nil {
			return err
		}
		nl := l // a copy: this may run again on a newer head
		if j < 0 {
			b.Listeners = append(b.Listeners, nl)
			return nil
		}
		if nl.Rules == nil {
			nl.Rules = b.Listeners[j].Rules
		}
		b.Listeners[j] = nl
		return nil
	})
}

func (a *API) deleteListener(w http.ResponseWriter, r *http.Request) error {
	port, err := pathInt(r, "port")
	if err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		b, j, err := existingListener(s, r.PathValue("lb"), port)
		if err != nil {
			return err
		}
		b.Listeners = slices.Delete(b.Listeners, j, j+1)
		return nil
	})
}

// existingListener is listenerAt for a listener that must exist.
func existingListener(s *model.State, lb string, port int) (*model.LoadBalancer, int, error) {
	b, j, err := listenerAt(s, lb, port)
	if err == nil && j < 0 {
		err = notFound("load balancer %s has no listener on port %d", b.Name, port)
	}
	return b, j, err
}

func ruleIndex(l *model.Listener, priority int) int {
	return slices.IndexFunc(l.Rules, func(r model.Rule) bool { return r.Priority == priority })
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request) error {
	prio, err := pathInt(r, "priority")
	if err != nil {
		return err
	}
	l, v, err := a.readListener(r)
	if err != nil {
		return err
	}
	i := ruleIndex(l, prio)
	if i < 0 {
		return notFound("the listener on port %d has no rule of priority %d", l.Port, prio)
	}
	w.Header().Set("ETag", etag(v))
	return writeJSON(w, http.StatusOK, l.Rules[i])
}

// editListener applies edit to the listener of the path, which must exist.
func (a *API) editListener(w http.ResponseWriter, r *http.Request, edit func(*model.Listener) error) error {
	port, err := pathInt(r, "port")
	if err != nil {
		return err
	}
	return a.commit(w, r, "api", "", func(s *model.State) error {
		b, j, err := existingListener(s, r.PathValue("lb"), port)
		if err != nil {
			return err
		}
		return edit(&b.Listeners[j])
	})
}

func (a *API) putRule(w http.ResponseWriter, r *http.Request) error {
	prio, err := pathInt(r, "priority")
	if err != nil {
		return err
	}
	var rule model.Rule
	if err := decode(r, &rule); err != nil {
		return err
	}
	if rule.Priority == 0 {
		rule.Priority = prio
	}
	if rule.Priority != prio {
		return badRequest("priority", "the body is priority %d but the path %d", rule.Priority, prio)
	}
	return a.editListener(w, r, func(l *model.Listener) error {
		if i := ruleIndex(l, prio); i >= 0 {
			l.Rules[i] = rule
		} else {
			l.Rules = append(l.Rules, rule)
		}
		return nil
	})
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) error {
	prio, err := pathInt(r, "priority")
	if err != nil {
		return err
	}
	return a.editListener(w, r, func(l *model.Listener) error {
		i := ruleIndex(l, prio)
		if i < 0 {
			return notFound("the listener on port %d has no rule of priority %d", l.Port, prio)
		}
		l.Rules = slices.Delete(l.Rules, i, i+1)
		return nil
	})
}
