// Package web holds the demo page that "tether serve" serves: a small chat
// over Socket.IO in plain HTML, CSS and JavaScript.
//
// The Socket.IO browser client is not part of it: "npm ci" in this folder
// installs the official socket.io-client package, whose bundle tether serve
// reads from node_modules at run time.
package web

import (
	"embed"
	"io/fs"
)

//go:embed index.html style.css chat.js
var files embed.FS

// FS returns the page's files (index.html, style.css, chat.js), at the root
// of the file system.
func FS() fs.FS { return files }
