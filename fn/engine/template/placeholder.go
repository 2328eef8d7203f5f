package template

import (
	"fmt"
	"strings"
)

// The placeholders every template may use besides its parameters.
const (
	WorkloadName      = "workload.name"
	WorkloadNamespace = "workload.namespace"
	WorkloadKind      = "workload.kind"
)

// segment is a piece of a string value: literal text, or a placeholder
// (name set) to be replaced by its value.
type segment struct {
	text, name string
}

// scan splits a string value into text and placeholders. `{{name}}` is a
// placeholder (no logic, no functions: a name only); `\{{` is a literal
// `{{`, because config files carried in a template have template syntax of
// their own. A `{{` that is never closed is an error, not text, so that a
// typo cannot ship a half-substituted config.
func scan(s string) ([]segment, error) {
	var out []segment
	var lit strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '\\' {
			lit.WriteString(s[:i-1])
			lit.WriteString("{{")
			s = s[i+2:]
			continue
		}
		lit.WriteString(s[:i])
		end := strings.Index(s[i+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("%q opens a placeholder that is never closed with }} (write \\{{ for a literal {{)", clip(s[i:]))
		}
		if lit.Len() > 0 {
			out = append(out, segment{text: lit.String()})
			lit.Reset()
		}
		out = append(out, segment{name: strings.TrimSpace(s[i+2 : i+2+end])})
		s = s[i+2+end+2:]
	}
	if lit.Len() > 0 || len(out) == 0 {
		out = append(out, segment{text: lit.String()})
	}
	return out, nil
}

// substitute writes the segments with each placeholder's value; every name
// has been checked to be in values.
func substitute(segs []segment, values map[string]string) string {
	if len(segs) == 1 && segs[0].name == "" {
		return segs[0].text
	}
	var b strings.Builder
	for _, sg := range segs {
		if sg.name == "" {
			b.WriteString(sg.text)
		} else {
			b.WriteString(values[sg.name])
		}
	}
	return b.String()
}

func clip(v string) string {
	if len(v) > 40 {
		return v[:37] + "..."
	}
	return v
}
