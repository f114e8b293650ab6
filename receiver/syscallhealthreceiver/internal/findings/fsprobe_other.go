//go:build !linux

package findings

// kernelFS knows nothing outside Linux: the receiver only runs there, and this keeps
// the package (and the receiver's configuration) building on other platforms.
type kernelFS struct{}

func (kernelFS) statInRoot(string, uint32, string) (pathStat, bool) { return pathStat{}, false }

func (kernelFS) openFile(string) (openFileInfo, bool) { return openFileInfo{}, false }
