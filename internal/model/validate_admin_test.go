package model

import "testing"

func TestValidateUIToken(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "ui-token/unset", mut: func(d *Document) { d.Server.Admin.UIToken = "" }},
		{name: "ui-token/valid", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789abcdef-._~" }},
		{name: "ui-token/short", mut: func(d *Document) { d.Server.Admin.UIToken = "secret" },
			want: []wantErr{{"server.admin.ui_token", "is 6 characters"}}},
		{name: "ui-token/space", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789 abcdef" },
			want: []wantErr{{"server.admin.ui_token", "holds a space, control or non-ASCII character"}}},
		{name: "ui-token/non-ascii", mut: func(d *Document) { d.Server.Admin.UIToken = "0123456789abcdéf" },
			want: []wantErr{{"server.admin.ui_token", "holds a space, control or non-ASCII character"}}},
	})
}
