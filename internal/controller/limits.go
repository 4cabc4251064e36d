package controller

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yakt/yakt/contract"
)

// Limits on the strings clients give. They keep the log and every answer
// free of text no broker could use (spaces, markup, control characters)
// and bound what one field may cost.
const (
	// MaxHostLength is DNS's limit on a name.
	MaxHostLength = 255
	// maxLabelLength is DNS's limit on one label of a name.
	maxLabelLength = 63
	// MaxRackIDLength bounds rackId, in characters.
	MaxRackIDLength = 255
)

// checkHost accepts an IP literal (IPv4, or IPv6 without brackets) or a
// host name: dot-separated labels of 1 to 63 ASCII letters, digits, '-'
// and '_' ('_' is common in container names), no label starting or ending
// with '-'; 1 to MaxHostLength characters in all.
func checkHost(field, h string) error {
	bad := func(why string) error {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must be a host name or an IP address; %q %s", field, clip(h), why)
	}
	switch {
	case h == "":
		return contract.Errorf(contract.CodeInvalidRequest, "%s is required", field)
	case len(h) > MaxHostLength:
		return contract.Errorf(contract.CodeInvalidRequest, "%s is %d bytes long; the limit is %d", field, len(h), MaxHostLength)
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	for label := range strings.SplitSeq(h, ".") {
		switch {
		case label == "":
			return bad("has an empty label")
		case len(label) > maxLabelLength:
			return bad("has a label longer than 63 characters")
		case label[0] == '-' || label[len(label)-1] == '-':
			return bad("has a label that starts or ends with '-'")
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return bad("contains " + quoteRune(c) + "; allowed are ASCII letters, digits, '-', '_' and '.'")
			}
		}
	}
	return nil
}

// checkRackID accepts up to MaxRackIDLength printable characters (no
// control characters, no line breaks); empty means no rack.
func checkRackID(r string) error {
	if !utf8.ValidString(r) {
		return contract.Errorf(contract.CodeInvalidRequest, "rackId is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(r); n > MaxRackIDLength {
		return contract.Errorf(contract.CodeInvalidRequest, "rackId is %d characters long; the limit is %d", n, MaxRackIDLength)
	}
	for _, c := range r {
		if !unicode.IsPrint(c) {
			return contract.Errorf(contract.CodeInvalidRequest, "rackId contains the non-printable character %U", c)
		}
	}
	return nil
}

func quoteRune(c rune) string {
	if unicode.IsPrint(c) {
		return "'" + string(c) + "'"
	}
	return "a non-printable character"
}

// clip shortens s, client input quoted in a message, to 64 characters.
func clip(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}
