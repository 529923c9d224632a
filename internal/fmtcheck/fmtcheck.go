// Package fmtcheck spots a fmt verb gone wrong in a message, for the fuzz targets of
// every package (backends included: it imports nothing of the project).
package fmtcheck

import (
	"regexp"
	"strings"
)

// badVerb is what fmt writes for a verb it could not fill: "%!s(MISSING)",
// "%!d(string=x)", "%!(EXTRA ...)".
var badVerb = regexp.MustCompile(`%!(?:[a-zA-Z]\((?:MISSING|BADWIDTH|BADPREC|BADINDEX|NOVERB|[a-z*.\[\]0-9]+=)|\(EXTRA )`)

// Bad reports a fmt verb gone wrong in msg, leaving out what the input itself put
// there.
func Bad(msg, input string) bool {
	return badVerb.MatchString(strings.ReplaceAll(msg, input, ""))
}
