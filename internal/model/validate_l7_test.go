package model

import "testing"

// Settings added with the L7 proxy: the node's zone and the HTTP listener
// timeouts.
func TestValidateL7Settings(t *testing.T) {
	lst := func(d *Document) *Listener { return &d.LoadBalancers[0].Listeners[0] }
	runValidate(t, []validateCase{
		{name: "zone/valid", mut: func(d *Document) { d.Server.Zone = "euw1-az1" }},
		{name: "zone/unknown", mut: func(d *Document) { d.Server.Zone = "mars-1a" },
			want: []wantErr{{"server.zone", `zone "mars-1a" is not defined`}}},
		{name: "timeouts/valid", mut: func(d *Document) {
			lst(d).ConnectTimeout, lst(d).RequestTimeout = dur("250ms"), dur("30s")
		}},
		{name: "timeouts/connect-too-short", mut: func(d *Document) { lst(d).ConnectTimeout = dur("10ms") },
			want: []wantErr{{"load_balancers[edge].listeners[0].connect_timeout", "10ms is below the minimum 100ms"}}},
		{name: "timeouts/request-too-long", mut: func(d *Document) { lst(d).RequestTimeout = dur("2h") },
			want: []wantErr{{"load_balancers[edge].listeners[0].request_timeout", "2h0m0s is above the maximum"}}},
		{name: "timeouts/not-on-tcp", mut: func(d *Document) {
			l := Listener{Protocol: ProtoTCP, Port: 9000, RequestTimeout: dur("5s"), DefaultAction: Action{Forward: &Forward{TargetGroups: []WeightedTargetGroup{{Name: "web"}}}}}
			d.LoadBalancers[0].Listeners = append(d.LoadBalancers[0].Listeners, l)
		}, want: []wantErr{
			{"load_balancers[edge].listeners[1].request_timeout", "a tcp listener has no HTTP requests to time"},
			{"load_balancers[edge].listeners[1].default_action.forward.target_groups[web].name", "speaks http"},
		}},
	})
}

// SetDefaults gives HTTP listeners the documented timeouts and leaves L4
// listeners without them.
func TestListenerTimeoutDefaults(t *testing.T) {
	l := Listener{Protocol: ProtoHTTPS}
	l.setDefaults()
	if l.ConnectTimeout.D() != DefaultConnectTimeout || l.RequestTimeout.D() != DefaultRequestTimeout {
		t.Errorf("https listener defaults = %s, %s, want %s, %s", l.ConnectTimeout, l.RequestTimeout, DefaultConnectTimeout, DefaultRequestTimeout)
	}
	tcp := Listener{Protocol: ProtoTCP}
	tcp.setDefaults()
	if tcp.ConnectTimeout != 0 || tcp.RequestTimeout != 0 {
		t.Errorf("tcp listener defaults = %s, %s, want none", tcp.ConnectTimeout, tcp.RequestTimeout)
	}
}
