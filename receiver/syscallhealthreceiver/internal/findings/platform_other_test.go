//go:build !linux

package findings

const isLinux = false
