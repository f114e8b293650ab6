package hostfs

import (
	"bufio"
	"bytes"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// maxPasswdBytes bounds the host's /etc/passwd read under a root_path.
const maxPasswdBytes = 4 << 20

// UserName returns the name of a user ID, "" when it has none. On the receiver's own root it
// asks the system's user database (NSS included); under a root_path, the host's /etc/passwd.
func (h *Host) UserName(uid uint32) string {
	name, _ := call(h.calls, "user name", func() (string, error) {
		if h.root == "/" {
			u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
			if err != nil {
				return "", nil
			}
			return u.Username, nil
		}
		raw, _, err := readLimited(h.hostPath(filepath.Join("etc", "passwd")), maxPasswdBytes)
		if err != nil {
			return "", nil
		}
		return passwdName(raw, uid), nil
	})
	return name
}

// passwdName finds uid in passwd(5) lines "name:password:uid:gid:...".
func passwdName(raw []byte, uid uint32) string {
	want := strconv.FormatUint(uint64(uid), 10)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 4)
		if len(fields) >= 3 && fields[2] == want {
			return fields[0]
		}
	}
	return ""
}
