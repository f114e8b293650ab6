package hostfs

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// ResolveScope walks the cgroup hierarchy hier and returns the cgroups that include and exclude name, and
// with containers the cgroups of every container (cgroups.Resolution). Cgroups that vanish during the walk
// are skipped; a rule naming no cgroup yet names none (its cgroup may come later: resolve again then). The
// cgroup filesystem is the kernel's own (kernfs): the walk needs no deadline.
func ResolveScope(hier cgroups.Hierarchy, include, exclude cgroups.Rules, containers bool) cgroups.Resolution {
	var res cgroups.Resolution
	if include.Empty() && exclude.Empty() && !containers {
		return res
	}
	var walk func(dir string, inContainer bool)
	walk = func(dir string, inContainer bool) {
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) != nil {
			return
		}
		path, base := hier.Path(dir), filepath.Base(dir)
		container := cgroups.IdentityOf(base).ContainerID
		if include.Match(path, base, container) {
			res.Include = append(res.Include, st.Ino)
		}
		if exclude.Match(path, base, container) {
			res.Exclude = append(res.Exclude, st.Ino)
		}
		if containers && container != "" && !inContainer {
			res.Containers = append(res.Containers, st.Ino)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.IsDir() {
				walk(filepath.Join(dir, e.Name()), inContainer || container != "")
			}
		}
	}
	walk(hier.Mount, false)
	for _, ids := range []*[]uint64{&res.Include, &res.Exclude, &res.Containers} {
		slices.Sort(*ids)
		*ids = slices.Compact(*ids)
	}
	return res
}
