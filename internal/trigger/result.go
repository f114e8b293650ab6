package trigger

// Result describes the failures that were caused. It is printed as one JSON line.
type Result struct {
	PID      int    `json:"pid"`
	TID      int    `json:"tid"`
	Syscall  string `json:"syscall"`
	Errno    string `json:"errno"`
	Failures int    `json:"failures"`
	Path     string `json:"path,omitempty"`
	Address  string `json:"address,omitempty"`
	Port     int    `json:"port,omitempty"`
	// Mode is how the connect scenarios' client connected (blocking, nonblocking, dial).
	Mode string `json:"mode,omitempty"`
	// LocalPorts are the source ports of the failed connects, in order, where the
	// client can read them afterwards (not with dial, whose socket Go closes).
	LocalPorts []int `json:"local_ports,omitempty"`
}
