//go:build !linux

package server

import "io/fs"

// inode is not known on this platform; size and time still detect changes.
func inode(fs.FileInfo) any { return nil }
