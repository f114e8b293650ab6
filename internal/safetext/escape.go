// Package safetext makes strings that come from the kernel or /proc (process names, paths, socket
// names, command lines, cgroup and mount names) safe to export: valid UTF-8 with every control
// character and every invalid byte escaped visibly and reversibly. Any local user chooses those
// strings; unescaped, they forge lines in console output, break JSON files and make a strict OTLP
// backend reject a whole batch ("string field contains invalid UTF-8").
package safetext // import "github.com/syscallhealth/syscallhealth/internal/safetext"

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s unchanged when it is safe, else with Go-like escapes:
//
//	backslash           \\   (so every escape is unambiguous and the mapping is reversible)
//	newline, CR, tab    \n \r \t
//	other C0 and DEL    \x00 .. \x1f, \x7f      (e.g. ESC is \x1b)
//	invalid UTF-8 byte  \x80 .. \xff            (one escape per byte)
//	C1 controls, line/paragraph separators and bidirectional-text controls   \u0085, \u2028, \u202e ...
//
// Everything else, including printable non-ASCII text, is kept as it is.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			writeASCII(&b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeHexByte(&b, c)
		case unsafeRune(r):
			b.WriteString(`\u`)
			hex := strconv.FormatUint(uint64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(hex)))
			b.WriteString(hex)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe is the index of the first byte Escape changes, -1 when there is none.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

func writeASCII(b *strings.Builder, c byte) {
	switch {
	case c == '\\':
		b.WriteString(`\\`)
	case c == '\n':
		b.WriteString(`\n`)
	case c == '\r':
		b.WriteString(`\r`)
	case c == '\t':
		b.WriteString(`\t`)
	case c < 0x20 || c == 0x7f:
		writeHexByte(b, c)
	default:
		b.WriteByte(c)
	}
}

func writeHexByte(b *strings.Builder, c byte) {
	const digits = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(digits[c>>4])
	b.WriteByte(digits[c&0xf])
}

// unsafeRune reports the valid non-ASCII runes that move the cursor or reorder text: C1 controls
// (U+0085 is a newline to some readers, U+009B a terminal escape), U+2028/U+2029 line and paragraph
// separators, and the bidirectional controls that make text display differently from what it is.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
