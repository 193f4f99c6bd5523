package platform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezones validate the same on machines without a zoneinfo database
)

// cronField is the range and names of one field of a cron expression.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []cronField{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
}

var cronMacros = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

// ValidateSchedule checks a five-field cron expression (or an @macro) and
// says what is wrong in terms a user can act on.
func ValidateSchedule(expr string) error {
	expr = strings.TrimSpace(expr)
	if cronMacros[strings.ToLower(expr)] {
		return nil
	}
	fields := strings.Fields(expr)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("expected 5 fields in cron expression, got %d", len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].validate(f); err != nil {
			return fmt.Errorf("%s field %q: %w", cronFields[i].name, f, err)
		}
	}
	return nil
}

// validate checks one comma-separated field: *, n, a-b, with an optional /step.
func (c cronField) validate(field string) error {
	for _, part := range strings.Split(field, ",") {
		base, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > c.max {
				return fmt.Errorf("bad step %q", step)
			}
		}
		if base == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(base, "-")
		a, err := c.value(lo)
		if err != nil {
			return err
		}
		if isRange {
			b, err := c.value(hi)
			if err != nil {
				return err
			}
			if a > b {
				return fmt.Errorf("range %s is reversed", base)
			}
		} else if hasStep {
			return fmt.Errorf("a step needs * or a range")
		}
	}
	return nil
}

// value parses a number or a name within the field's range.
func (c cronField) value(s string) (int, error) {
	for i, n := range c.names {
		if strings.EqualFold(s, n) {
			return c.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < c.min || v > c.max {
		return 0, fmt.Errorf("%q is not in %d-%d", s, c.min, c.max)
	}
	return v, nil
}

// ValidateTimezone checks an IANA time zone name such as America/Sao_Paulo.
func ValidateTimezone(tz string) error {
	if tz == "" || tz == "Local" {
		return fmt.Errorf("a timezone such as America/Sao_Paulo or UTC is required")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("unknown timezone %q", tz)
	}
	return nil
}
