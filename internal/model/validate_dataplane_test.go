package model

import "testing"

func TestValidateDataPlane(t *testing.T) {
	// kernel makes base's balancer forward tcp/5432 to the tcp group db
	// through dp, without its http listener.
	kernel := func(dp DataPlane) func(d *Document) {
		return func(d *Document) {
			d.TargetGroups = append(d.TargetGroups, tcpGroup("db"))
			lb(d).Listeners = []Listener{{Protocol: ProtoTCP, Port: 5432, DefaultAction: forwardTo("db")}}
			lb(d).DataPlane = &dp
		}
	}
	then := func(a, b func(d *Document)) func(d *Document) {
		return func(d *Document) { a(d); b(d) }
	}
	pDP := pLB + ".data_plane"
	runValidate(t, []validateCase{
		{name: "absent-valid", mut: func(d *Document) { lb(d).DataPlane = nil }},
		{name: "userspace-valid", mut: func(d *Document) {
			lb(d).DataPlane = &DataPlane{Backend: BackendUserspace, Fallback: FallbackUserspace}
		}},
		{name: "userspace/kernel-fields", mut: func(d *Document) {
			lb(d).DataPlane = &DataPlane{Mode: ModeDSR, Interface: "eth0", TableSize: 251}
		}, want: []wantErr{
			{pDP + ".mode", "the userspace backend has no mode"},
			{pDP + ".interface", "the userspace backend has no interface"},
			{pDP + ".table_size", "the userspace backend has no table_size"},
		}},
		{name: "nft/nat-defaults-valid", mut: kernel(DataPlane{Backend: BackendNft})},
		{name: "nft/dsr-valid", mut: kernel(DataPlane{Backend: BackendNft, Mode: ModeDSR, Interface: "eth0", TableSize: 251})},
		{name: "nft/table-size-1000003-valid", mut: kernel(DataPlane{Backend: BackendNft, TableSize: 1000003})},
		{name: "nft/table-size-not-prime", mut: kernel(DataPlane{Backend: BackendNft, TableSize: 65536}),
			want: []wantErr{{pDP + ".table_size", "65536 is not a prime"}}},
		{name: "nft/table-size-too-small", mut: kernel(DataPlane{Backend: BackendNft, TableSize: 241}),
			want: []wantErr{{pDP + ".table_size", "241 is out of range"}}},
		{name: "nft/table-size-too-large", mut: kernel(DataPlane{Backend: BackendNft, TableSize: 1000033}),
			want: []wantErr{{pDP + ".table_size", "1000033 is out of range"}}},
		{name: "nft/tunnel", mut: kernel(DataPlane{Backend: BackendNft, Mode: ModeTunnel}),
			want: []wantErr{{pDP + ".mode", `"tunnel" is not a mode of the nft backend`}}},
		{name: "ipvs/tunnel-valid", mut: kernel(DataPlane{Backend: BackendIPVS, Mode: ModeTunnel})},
		{name: "ipvs/table-size", mut: kernel(DataPlane{Backend: BackendIPVS, TableSize: 65537}),
			want: []wantErr{{pDP + ".table_size", "fixed when the kernel is built"}}},
		{name: "backend/unknown", mut: kernel(DataPlane{Backend: "xdp"}),
			want: []wantErr{{pDP + ".backend", `"xdp" is not a data plane backend`}}},
		{name: "fallback/unknown", mut: kernel(DataPlane{Backend: BackendNft, Fallback: "retry"}),
			want: []wantErr{{pDP + ".fallback", `"retry" is not a fallback`}}},
		{name: "dsr/no-interface", mut: kernel(DataPlane{Backend: BackendNft, Mode: ModeDSR}),
			want: []wantErr{{pDP + ".interface", "dsr mode forwards out of an interface"}}},
		{name: "interface/bad-name", mut: kernel(DataPlane{Backend: BackendNft, Interface: "eth0/../x"}),
			want: []wantErr{{pDP + ".interface", `"eth0/../x" is not an interface name`}}},
		{name: "interface/16-chars", mut: kernel(DataPlane{Backend: BackendNft, Interface: "abcdefghijklmnop"}),
			want: []wantErr{{pDP + ".interface", "is not an interface name"}}},
		{name: "listener/http-with-kernel", mut: then(kernel(DataPlane{Backend: BackendNft}), func(d *Document) {
			lb(d).Listeners = append(lb(d).Listeners, Listener{Protocol: ProtoHTTP, Port: 80, DefaultAction: forwardTo("web")})
		}), want: []wantErr{{pLB + ".listeners[1].protocol", "cannot serve an http listener"}}},
		{name: "dsr/port-mapping", mut: then(kernel(DataPlane{Backend: BackendNft, Mode: ModeDSR, Interface: "eth0"}), func(d *Document) {
			lb(d).Listeners[0].Port = 5433
		}), want: []wantErr{{pL0 + ".port", "dsr cannot change ports: target group db has target 10.0.1.20 on port 5432"}}},
		{name: "nat/port-mapping-valid", mut: then(kernel(DataPlane{Backend: BackendNft}), func(d *Document) {
			lb(d).Listeners[0].Port = 5433
		})},
	})
}

func TestDataPlaneDefaults(t *testing.T) {
	d := base()
	d.TargetGroups = append(d.TargetGroups, tcpGroup("db"))
	lb(d).Listeners = []Listener{{Protocol: ProtoTCP, Port: 5432, DefaultAction: forwardTo("db")}}
	lb(d).DataPlane = &DataPlane{Backend: BackendNft}
	d.SetDefaults()
	got := *lb(d).DataPlane
	want := DataPlane{Backend: BackendNft, Mode: ModeNAT, Fallback: FallbackRefuse, TableSize: DefaultTableSize}
	if got != want {
		t.Errorf("SetDefaults(data_plane: {backend: nft}) = %+v, want %+v", got, want)
	}
	if b := (&LoadBalancer{}).BackendOf(); b != BackendUserspace {
		t.Errorf("BackendOf(no data_plane) = %s, want userspace", b)
	}
}
