package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// envActionPrefix marks actions on environment variables, whose value,
// old_value, new_value, previous_value and values keys are secrets.
const envActionPrefix = "env_var."

// cycleCheckDepth is the nesting depth after which the walk starts tracking
// its ancestors to detect cycles (decoded JSON has none; hand-built maps may).
const cycleCheckDepth = 1000

var errCycle = errors.New("redact: cyclic metadata")

// Metadata returns a redacted deep copy of m for an entry of the given action; m is not modified.
//
// The expected values are those of encoding/json with UseNumber: maps, slices,
// strings, json.Number, bool and nil. Keys are checked like values (see
// rekey), and numbers too, json.Number or any Go integer or float type: one
// that the value patterns change (a CPF, a card, a phone number sent as a
// number) becomes the redacted string. Any other type is converted through
// encoding/json first and becomes Redacted if that fails. A nil map gives an
// empty map. Metadata is idempotent.
func Metadata(action string, m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	w := walker{envAction: strings.HasPrefix(action, envActionPrefix)}
	if out, ok := w.root(m); ok {
		return out
	}
	// Fail closed on a cyclic value: keep only the top-level keys.
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = Redacted
	}
	return out
}

// root walks m and reports false if it found a cycle.
func (w *walker) root(m map[string]any) (out map[string]any, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if err, isErr := r.(error); !isErr || !errors.Is(err, errCycle) {
				panic(r)
			}
			out, ok = nil, false
		}
	}()
	return w.object(m), true
}

// walker carries the per-call state of one Metadata walk.
type walker struct {
	envAction bool
	depth     int
	ancestors map[container]struct{}
}

// container identifies a map or slice for cycle detection.
type container struct {
	ptr uintptr
	n   int
}

// enterMap, enterSlice and their leave twins track the nesting depth and,
// past cycleCheckDepth, the ancestors. They take concrete types so that the
// common shallow case converts nothing to an interface (a slice would allocate).
func (w *walker) enterMap(m map[string]any) {
	if w.depth++; w.depth > cycleCheckDepth {
		w.track(reflect.ValueOf(m))
	}
}

func (w *walker) enterSlice(s []any) {
	if w.depth++; w.depth > cycleCheckDepth {
		w.track(reflect.ValueOf(s))
	}
}

func (w *walker) leaveMap(m map[string]any) {
	if w.depth > cycleCheckDepth {
		delete(w.ancestors, containerOf(reflect.ValueOf(m)))
	}
	w.depth--
}

func (w *walker) leaveSlice(s []any) {
	if w.depth > cycleCheckDepth {
		delete(w.ancestors, containerOf(reflect.ValueOf(s)))
	}
	w.depth--
}

func containerOf(rv reflect.Value) container {
	return container{ptr: rv.Pointer(), n: rv.Len()}
}

// track records an ancestor and aborts the walk if it is already one.
func (w *walker) track(rv reflect.Value) {
	c := containerOf(rv)
	if w.ancestors == nil {
		w.ancestors = make(map[container]struct{})
	}
	if _, ok := w.ancestors[c]; ok {
		panic(errCycle)
	}
	w.ancestors[c] = struct{}{}
}

// object applies the key-name rules to each key and walks the values.
//
// A name/value pair whose name is a secret's, such as the header
// {"name": "Authorization", "value": "..."} or {"key": "DB_PASSWORD",
// "value": "..."}, has its value redacted as if it were under that name.
func (w *walker) object(m map[string]any) map[string]any {
	w.enterMap(m)
	secretValue := w.envAction
	if !secretValue && (m["value"] != nil || m["Value"] != nil) {
		secretValue = namesSecret(m["name"]) || namesSecret(m["key"]) ||
			namesSecret(m["Name"]) || namesSecret(m["Key"])
	}
	out := make(map[string]any, len(m))
	var renames []rename
	for k, v := range m {
		to := keyText(k)
		out[k] = w.field(k, to, v, secretValue)
		renames = noteRename(renames, k, to)
	}
	rekey(out, renames)
	w.leaveMap(m)
	return out
}

// rename is a key that the value patterns change.
type rename struct{ from, to string }

// keyText returns k with the value patterns applied: keys are checked like
// values. A key of fewer than 20 lowercase letters and "_" cannot hold any
// pattern and is not scanned.
func keyText(k string) string {
	if len(k) < 20 && plainKey(k) {
		return k
	}
	return String(k)
}

// noteRename appends {k, to} to renames when the key changes.
func noteRename(renames []rename, k, to string) []rename {
	if to != k {
		renames = append(renames, rename{k, to})
	}
	return renames
}

// noteKey appends k to renames when the value patterns change it.
func noteKey(renames []rename, k string) []rename {
	return noteRename(renames, k, keyText(k))
}

// plainKey reports whether k is only lowercase ASCII letters and "_".
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// rekey moves the value of each renamed key of out to its redacted key. When
// that key is taken (two e-mails give the same "[REDACTED:email]"), it gets
// " (2)", " (3)", ...; renames are applied in the order of the original keys,
// so the result does not depend on the order of map iteration.
func rekey(out map[string]any, renames []rename) {
	if len(renames) == 0 {
		return
	}
	slices.SortFunc(renames, func(a, b rename) int { return strings.Compare(a.from, b.from) })
	var next map[string]int // the next suffix to try for each redacted key (no quadratic search)
	for _, r := range renames {
		v := out[r.from]
		delete(out, r.from)
		to := r.to
		if _, taken := out[to]; taken {
			if next == nil {
				next = map[string]int{}
			}
			i := max(next[r.to], 2)
			for ; ; i++ {
				to = r.to + " (" + strconv.Itoa(i) + ")"
				if _, taken := out[to]; !taken {
					break
				}
			}
			next[r.to] = i + 1
		}
		out[to] = v
	}
}

// namesSecret reports whether v is a string that SensitiveKey accepts, before
// or after the value patterns (so that redacting the output again, where the
// name reads "[REDACTED:api_key]", gives the same result).
func namesSecret(v any) bool {
	s, ok := v.(string)
	return ok && (SensitiveKey(s) || SensitiveKey(String(s)))
}

// field redacts the value v found under key k, which reads "to" once
// redacted; secretValue says that the value, old_value, new_value,
// previous_value and values keys are secrets. A key names a secret if it
// does before or after redaction ("AKIA..." becomes "[REDACTED:aws_access_key]"),
// so that redacting the output again changes nothing.
func (w *walker) field(k, to string, v any, secretValue bool) any {
	c := classifyKey(k)
	if to != k && !c.sensitive {
		c.sensitive = SensitiveKey(to)
	}
	switch {
	case c.sensitive, secretValue && c.envValue:
		return w.redactAll(v)
	case c.envContainer:
		return w.env(v)
	}
	return w.value(v)
}

// value applies the value patterns to every string and number inside v.
func (w *walker) value(v any) any {
	switch x := v.(type) {
	case nil, bool:
		return v
	case string:
		if r := String(x); r != x {
			return r
		}
		return v // the original interface value: no new allocation
	case json.Number:
		if r, ok := redactNumber(string(x)); ok {
			return r
		}
		return v
	case float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		var buf [32]byte
		if text, ok := appendNumber(buf[:0], x); ok && len(text) >= minNumberDigits {
			if r, ok := redactNumber(string(text)); ok {
				return r
			}
		}
		return v
	case map[string]any:
		return w.object(x)
	case []any:
		w.enterSlice(x)
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = w.value(e)
		}
		w.leaveSlice(x)
		return out
	}
	if x, ok := normalize(v); ok {
		return w.value(x)
	}
	return Redacted
}

// redactAll replaces every non-null leaf of v with Redacted, keeping the keys
// of maps and the length of arrays, so a diff still shows what changed.
func (w *walker) redactAll(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case string, bool, json.Number, float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return Redacted
	case map[string]any:
		w.enterMap(v)
		pair := isPair(v)
		out := make(map[string]any, len(v))
		var renames []rename
		for k, x := range v {
			if pair && isNameKey(k) {
				out[k] = w.value(x) // the name of a secret is not the secret
			} else {
				out[k] = w.redactAll(x)
			}
			renames = noteKey(renames, k)
		}
		rekey(out, renames)
		w.leaveMap(v)
		return out
	case []any:
		w.enterSlice(v)
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = w.redactAll(x)
		}
		w.leaveSlice(v)
		return out
	}
	if x, ok := normalize(v); ok {
		return w.redactAll(x)
	}
	return Redacted
}

// isPair reports whether m is a name/value pair: {"name" or "key": "...",
// "value" or "valueFrom": ...}, such as a Kubernetes environment variable.
func isPair(m map[string]any) bool {
	_, name := m["name"].(string)
	if !name {
		_, name = m["key"].(string)
	}
	if !name {
		_, name = m["Name"].(string)
	}
	if !name {
		_, name = m["Key"].(string)
	}
	if !name {
		return false
	}
	_, value := m["value"]
	if !value {
		_, value = m["Value"]
	}
	if !value {
		_, value = m["valueFrom"]
	}
	return value
}

// isNameKey reports whether k holds the name of a name/value pair.
func isNameKey(k string) bool { return k == "name" || k == "key" || k == "Name" || k == "Key" }

// env redacts the variables under an env/environment/variables key: an object
// maps names to values (values redacted, names kept), an array holds
// Kubernetes-style {"name", "value", "valueFrom"} objects or NAME=value
// strings. A scalar ("env": "production") names an environment and is only
// pattern-checked.
func (w *walker) env(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if isPair(v) {
			return w.envVar(v) // one variable: "env": {"name": "DB_PASSWORD", "value": "..."}
		}
		w.enterMap(v)
		out := make(map[string]any, len(v))
		var renames []rename
		for k, x := range v {
			if list, ok := x.([]any); ok {
				out[k] = w.envList(list) // e.g. {"from": [...], "to": [...]}
			} else {
				out[k] = w.redactAll(x)
			}
			renames = noteKey(renames, k)
		}
		rekey(out, renames)
		w.leaveMap(v)
		return out
	case []any:
		return w.envList(v)
	}
	return w.value(v)
}

// envList redacts the values of a list of environment variables.
func (w *walker) envList(list []any) []any {
	w.enterSlice(list)
	out := make([]any, len(list))
	for i, x := range list {
		switch x := x.(type) {
		case map[string]any:
			out[i] = w.envVar(x)
		case string:
			out[i] = envString(x)
		default:
			out[i] = w.redactAll(x)
		}
	}
	w.leaveSlice(list)
	return out
}

// envVar redacts one Kubernetes-style variable: value is redacted, valueFrom
// (a reference such as secretKeyRef, not a value) only gets the value
// patterns, name and other fields follow the usual rules. An object without
// name, value or valueFrom is not a variable and is redacted whole.
func (w *walker) envVar(m map[string]any) map[string]any {
	_, hasName := m["name"]
	_, hasValue := m["value"]
	_, hasFrom := m["valueFrom"]
	if !hasName && !hasValue && !hasFrom {
		return w.redactAll(m).(map[string]any)
	}
	w.enterMap(m)
	out := make(map[string]any, len(m))
	var renames []rename
	for k, x := range m {
		to := keyText(k)
		switch k {
		case "value", "Value":
			out[k] = w.redactAll(x)
		case "valueFrom":
			out[k] = w.patterns(x)
		default:
			out[k] = w.field(k, to, x, w.envAction)
		}
		renames = noteRename(renames, k, to)
	}
	rekey(out, renames)
	w.leaveMap(m)
	return out
}

// patterns applies only the value patterns, not the key-name rules, inside v.
func (w *walker) patterns(v any) any {
	switch v := v.(type) {
	case map[string]any:
		w.enterMap(v)
		out := make(map[string]any, len(v))
		var renames []rename
		for k, x := range v {
			out[k] = w.patterns(x)
			renames = noteKey(renames, k)
		}
		rekey(out, renames)
		w.leaveMap(v)
		return out
	case []any:
		w.enterSlice(v)
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = w.patterns(x)
		}
		w.leaveSlice(v)
		return out
	}
	return w.value(v)
}

// envString redacts the value of a NAME=value string, keeping the name. A
// string without "=" that is a variable's name (upper case letters, digits
// and "_", as in Docker's ["DEBUG=1", "HOME"], where HOME is passed through
// from the host) is kept, unless it holds a pattern (AKIA...); any other
// string is a bare value, redacted whole.
func envString(s string) string {
	name, _, ok := strings.Cut(s, "=")
	if !ok {
		if isEnvName(s) && String(s) == s {
			return s
		}
		return Redacted
	}
	return String(name) + "=" + Redacted
}

// isEnvName reports whether s reads as an environment variable's name:
// [A-Z_][A-Z0-9_]* with at least one letter.
func isEnvName(s string) bool {
	letter := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z':
			letter = true
		case c == '_', i > 0 && isDigit(c):
		default:
			return false
		}
	}
	return letter
}

// normalize converts a value of any other type into the types encoding/json
// decodes to (UseNumber), by a JSON round trip.
func normalize(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}
