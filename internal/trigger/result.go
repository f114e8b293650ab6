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
}
