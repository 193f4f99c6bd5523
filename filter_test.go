package auditlog_test

import (
	"testing"

	"github.com/guaracloud/auditlog"
)

func TestAddActionPattern(t *testing.T) {
	for _, ok := range []string{"service.update", "cron_worker.manual_trigger", "project.member.invite", "cron_worker.*", "project.member.*", "a1.b_2"} {
		var f auditlog.Filter
		if !f.AddActionPattern(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "*", ".*", "service", "service.", ".update", "service..update", "Service.update", "service.*.x",
		"service*", "service.up date", "service.update.", "cron-worker.create", "service.**"} {
		var f auditlog.Filter
		if f.AddActionPattern(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	var f auditlog.Filter
	f.AddActionPattern("cron_worker.*")
	f.AddActionPattern("service.update")
	f.AddActionPattern("service.update")
	if len(f.Families) != 1 || f.Families[0] != "cron_worker" || len(f.Actions) != 1 {
		t.Fatalf("%+v", f)
	}
	for action, want := range map[string]bool{"cron_worker.create": true, "service.update": true, "cron_workers.create": false, "cron_worker": false, "service.update_x": false} {
		if got := f.Matches(&auditlog.Entry{Action: action}); got != want {
			t.Errorf("%s: %v", action, got)
		}
	}
}

func TestFilterKeyIsOrderFree(t *testing.T) {
	var a, b auditlog.Filter
	a.AddActionPattern("service.update")
	a.AddActionPattern("deploy.create")
	b.AddActionPattern("deploy.create")
	b.AddActionPattern("service.update")
	if a.Key() != b.Key() {
		t.Fatal("same filters, different keys")
	}
	b.Outcome = auditlog.Failed
	if a.Key() == b.Key() {
		t.Fatal("different filters, same key")
	}
}
