//go:build linux

package trigger

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// blackholePort is where etimedout connects unless -port says otherwise
// (discard, which nothing in the private namespace listens on anyway).
const blackholePort = 9

// runETIMEDOUT makes exactly o.Failures connects time out, non-blocking by
// default. The calling thread moves into a network namespace of its own (gone
// when the scenario ends), brings its loopback up, drops every packet to the
// port with an nftables rule (iptables when nft is missing) and lowers
// net.ipv4.tcp_syn_retries to 1 there, so a connect gives up after about 3 s
// (1 s, then 2 s for the one retry) instead of about 2 minutes. Nothing on
// the host changes.
func runETIMEDOUT(o Options, r *Result) (err error) {
	addr := loopback(o)
	port := o.Port
	if port == 0 {
		port = blackholePort
	}
	leave, err := enterPrivateNetns()
	if err != nil {
		return err
	}
	defer func() {
		if leaveErr := leave(); err == nil {
			err = leaveErr
		}
	}()
	if err := setLoopbackUp(); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_syn_retries", []byte("1"), 0); err != nil {
		return fmt.Errorf("lowering net.ipv4.tcp_syn_retries in the private network namespace: %w", err)
	}
	if err := dropPackets(addr, port); err != nil {
		return err
	}
	return failConnects(o, r, ModeNonblocking, netip.AddrPortFrom(addr, port), unix.ETIMEDOUT)
}

// enterPrivateNetns moves the calling (locked) thread into a new network
// namespace; leave moves it back. Sockets opened meanwhile stay in the new
// namespace, which the kernel frees once they are closed.
func enterPrivateNetns() (leave func() error, err error) {
	host, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		unix.Close(host)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("creating a private network namespace: %w (needs root or CAP_SYS_ADMIN)", err)
		}
		return nil, fmt.Errorf("creating a private network namespace: %w", err)
	}
	return func() error {
		defer unix.Close(host)
		if err := unix.Setns(host, unix.CLONE_NEWNET); err != nil {
			// Stuck in the private namespace: keep the thread locked so the
			// runtime discards it with its goroutine instead of reusing it.
			runtime.LockOSThread()
			return fmt.Errorf("returning to the host network namespace: %w", err)
		}
		return nil
	}, nil
}

// setLoopbackUp brings lo up in the current network namespace (a new one starts with it down).
func setLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for interface flags: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading the flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// dropPackets drops every TCP packet to port in the current network namespace.
// The firewall tool runs as a child of this thread, so in its namespace.
func dropPackets(addr netip.Addr, port uint16) error {
	nft, nftErr := findTool("nft")
	if nftErr == nil {
		ruleset := fmt.Sprintf("table inet syscallhealth_trigger {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport %d drop\n\t}\n}\n", port)
		cmd := exec.Command(nft, "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		nftErr = fmt.Errorf("%s -f -: %w: %s", nft, err, strings.TrimSpace(string(out)))
	}
	name := "iptables"
	if addr.Is6() && !addr.Is4In6() {
		name = "ip6tables"
	}
	iptables, err := findTool(name)
	if err != nil {
		return fmt.Errorf("dropping SYNs needs nftables or iptables (apt-get install nftables): %w; %w", nftErr, err)
	}
	out, err := exec.Command(iptables, "-w", "-A", "INPUT", "-p", "tcp", "--dport", strconv.Itoa(int(port)), "-j", "DROP").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s (after %w): %w: %s", name, nftErr, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// findTool finds an administration tool in PATH or the sbin directories a non-login PATH may lack.
func findTool(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		path := dir + "/" + name
		if st, err := os.Stat(path); err == nil && st.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /sbin", name)
}
