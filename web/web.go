// Package web is switchboard's dashboard: plain HTML, CSS and JavaScript
// embedded into the binary, with nothing to build. The admin listener serves
// it at /ui/; it reads a JSON snapshot pushed over server-sent events
// (/ui/events) and starts and cancels zonal shifts at /ui/api/shifts.
package web

import "embed"

// Files are the dashboard's files: index.html, app.js, style.css.
//
//go:embed index.html app.js style.css
var Files embed.FS
