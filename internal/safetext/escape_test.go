package safetext

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/var/lib/postgresql/base/16384", "/var/lib/postgresql/base/16384"},
		{"café/日本語", "café/日本語"},
		{"ev\n\x1b[31mil", `ev\n\x1b[31mil`},
		{"@x failed\nFAKE LINE \x1b[2J", `@x failed\nFAKE LINE \x1b[2J`},
		{"secret-\xff\xfe", `secret-\xff\xfe`},
		{`C:\dir`, `C:\\dir`},
		{`\x41`, `\\x41`},
		{"a\tb\rc\x00d\x7f", `a\tb\rc\x00d\x7f`},
		{"next\u0085line \u009b2J", `next\u0085line \u009b2J`},
		{"para\u2029line\u2028", `para\u2029line\u2028`},
		{"evil\u202etxt.exe \u2066x\u2069", `evil\u202etxt.exe \u2066x\u2069`},
		{"\xed\xa0\x80", `\xed\xa0\x80`}, // an encoded surrogate is not valid UTF-8
		{"trunc\xe6\x97", `trunc\xe6\x97`},
	} {
		got := Escape(tc.in)
		assert.Equal(t, tc.want, got, "Escape(%q)", tc.in)
		back, err := unescape(got)
		require.NoError(t, err)
		assert.Equal(t, tc.in, back, "unescape(Escape(%q))", tc.in)
	}
}

func TestEscapeKeepsSafeStrings(t *testing.T) {
	s := "/proc/self/fd/3"
	assert.Equal(t, s, Escape(s))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = Escape(s) }), "a safe string is returned as it is")
}

// FuzzEscape checks what every exported string relies on: the result is valid UTF-8, holds no
// character that moves the cursor or reorders text, and gives back the original.
func FuzzEscape(f *testing.F) {
	for _, seed := range []string{"", "plain", "ev\n\x1b[31mil", "@x failed\nFAKE LINE \x1b[2J", "secret-\xff\xfe",
		`back\slash`, "\u202e\u0085\u2028", "\xed\xa0\x80", "日本\xe6\x97"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q is not valid UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || unsafeRune(r) {
				t.Fatalf("Escape(%q) = %q holds %U", s, out, r)
			}
		}
		back, err := unescape(out)
		if err != nil || back != s {
			t.Fatalf("unescape(Escape(%q)) = %q, %v", s, back, err)
		}
		if !strings.ContainsRune(s, '\\') && firstUnsafe(s) < 0 && out != s {
			t.Fatalf("Escape changed the safe string %q into %q", s, out)
		}
	})
}

// unescape is the inverse of Escape: it proves the escaping loses nothing.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("trailing backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x', 'u':
			width := 2
			if s[i] == 'u' {
				width = 4
			}
			if i+width >= len(s) {
				return "", errors.New("short escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			if err != nil {
				return "", err
			}
			if width == 2 {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
			i += width
		default:
			return "", errors.New("unknown escape")
		}
	}
	return b.String(), nil
}
