package bpf

import (
	"slices"
	"strings"
)

// Rule watches one syscall for some errnos.
type Rule struct {
	// Syscall is the syscall's name on this architecture, such as "openat".
	Syscall string
	// Errnos are the errnos reported for it (1-255).
	Errnos []Errno
	// AllErrnos reports every errno (opt-in, e.g. to see ENOENT); Errnos is then ignored.
	AllErrnos bool
}

// Errnos used by the default rules.
const (
	ePERM         Errno = 1
	eIO           Errno = 5
	e2BIG         Errno = 7
	eAGAIN        Errno = 11
	eNOMEM        Errno = 12
	eACCES        Errno = 13
	eNFILE        Errno = 23
	eMFILE        Errno = 24
	eFBIG         Errno = 27
	eNOSPC        Errno = 28
	eROFS         Errno = 30
	eMLINK        Errno = 31
	eNOBUFS       Errno = 105
	eADDRINUSE    Errno = 98
	eADDRNOTAVAIL Errno = 99
	eNETUNREACH   Errno = 101
	eTIMEDOUT     Errno = 110
	eCONNREFUSED  Errno = 111
	eHOSTUNREACH  Errno = 113
	eDQUOT        Errno = 122
)

// argKind says which syscall argument gives an event its context; the values
// are the kernel's enum arg_kind (health.h).
type argKind uint8

const (
	argNone argKind = iota
	// argPath: a user pointer to a path in argument argIndex.
	argPath
	// argFDFile: a file descriptor in argument 0, whose path the kernel resolves.
	argFDFile
	// argFDSocket: a socket descriptor in argument 0, whose local address the kernel reads.
	argFDSocket
	// argSockaddrPeer: connect's address argument.
	argSockaddrPeer
	// argSockaddrLocal: bind's address argument.
	argSockaddrLocal
)

type watchedSyscall struct {
	category Category
	errnos   []Errno
	arg      argKind
	argIndex uint8
}

var (
	openErrnos  = []Errno{eNOSPC, eDQUOT, eMFILE, eNFILE, eACCES, ePERM, eROFS, eIO}
	writeErrnos = []Errno{eNOSPC, eDQUOT, eIO, eROFS, eFBIG}
	mkdirErrnos = []Errno{eNOSPC, eDQUOT, eMLINK, eACCES, ePERM, eROFS, eIO}
	bindErrnos  = []Errno{eADDRINUSE, eACCES, eADDRNOTAVAIL}
	cloneErrnos = []Errno{eAGAIN, eNOMEM}
	execErrnos  = []Errno{eNOMEM, e2BIG, eACCES}
)

// watchedSyscalls is the default watch list with each syscall's category,
// default errnos (EAGAIN is never a write error here: non-blocking sockets
// return it constantly; EINPROGRESS is never a connect error) and context.
// EFBIG joins the write family because RLIMIT_FSIZE and file-size limits
// surface as EFBIG. Names absent on an architecture are skipped there.
var watchedSyscalls = map[string]watchedSyscall{
	"open":      {CategoryFile, openErrnos, argPath, 0},
	"openat":    {CategoryFile, openErrnos, argPath, 1},
	"openat2":   {CategoryFile, openErrnos, argPath, 1},
	"creat":     {CategoryFile, openErrnos, argPath, 0},
	"write":     {CategoryFile, writeErrnos, argFDFile, 0},
	"pwrite64":  {CategoryFile, writeErrnos, argFDFile, 0},
	"writev":    {CategoryFile, writeErrnos, argFDFile, 0},
	"pwritev":   {CategoryFile, writeErrnos, argFDFile, 0},
	"pwritev2":  {CategoryFile, writeErrnos, argFDFile, 0},
	"truncate":  {CategoryFile, []Errno{eNOSPC, eDQUOT, eIO, eROFS, eFBIG, eACCES, ePERM}, argPath, 0},
	"ftruncate": {CategoryFile, []Errno{eNOSPC, eDQUOT, eIO, eROFS, eFBIG, ePERM}, argFDFile, 0},
	"fallocate": {CategoryFile, writeErrnos, argFDFile, 0},
	"mkdir":     {CategoryFile, mkdirErrnos, argPath, 0},
	"mkdirat":   {CategoryFile, mkdirErrnos, argPath, 1},
	"mmap":      {CategoryMemory, []Errno{eNOMEM}, argNone, 0},
	"mremap":    {CategoryMemory, []Errno{eNOMEM}, argNone, 0},
	"connect":   {CategoryNetwork, []Errno{eCONNREFUSED, eTIMEDOUT, eNETUNREACH, eHOSTUNREACH, eADDRNOTAVAIL}, argSockaddrPeer, 1},
	"bind":      {CategoryNetwork, bindErrnos, argSockaddrLocal, 1},
	"listen":    {CategoryNetwork, bindErrnos, argFDSocket, 0},
	"accept":    {CategoryNetwork, []Errno{eMFILE, eNFILE, eNOMEM, eNOBUFS}, argFDSocket, 0},
	"accept4":   {CategoryNetwork, []Errno{eMFILE, eNFILE, eNOMEM, eNOBUFS}, argFDSocket, 0},
	"clone":     {CategoryProcess, cloneErrnos, argNone, 0},
	"clone3":    {CategoryProcess, cloneErrnos, argNone, 0},
	"fork":      {CategoryProcess, cloneErrnos, argNone, 0},
	"vfork":     {CategoryProcess, cloneErrnos, argNone, 0},
	"execve":    {CategoryProcess, execErrnos, argPath, 0},
	"execveat":  {CategoryProcess, execErrnos, argPath, 1},
}

// DefaultRules returns the default watch list: every syscall of the watched
// table that exists on this architecture with its default errnos, sorted by name.
func DefaultRules() []Rule {
	var rules []Rule
	for name, w := range watchedSyscalls {
		if _, ok := SyscallByName(name); ok {
			rules = append(rules, Rule{Syscall: name, Errnos: slices.Clone(w.errnos)})
		}
	}
	slices.SortFunc(rules, func(a, b Rule) int { return strings.Compare(a.Syscall, b.Syscall) })
	return rules
}
