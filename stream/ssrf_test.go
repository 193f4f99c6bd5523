package stream_test

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

// loopbackName returns a name /etc/hosts maps to a loopback address, other
// than localhost (which CheckURL refuses by name), or "".
func loopbackName() string {
	f, err := os.Open("/etc/hosts")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
		if len(fields) < 2 {
			continue
		}
		if a, err := netip.ParseAddr(fields[0]); err != nil || !a.IsLoopback() {
			continue
		}
		for _, name := range fields[1:] {
			if !strings.Contains(strings.ToLower(name), "localhost") {
				return name
			}
		}
	}
	return ""
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	refused := []struct{ typ, url string }{
		{stream.Webhook, "https://127.0.0.1/hook"},
		{stream.Webhook, "https://127.1.2.3:8443/hook"},
		{stream.Webhook, "https://[::1]/hook"},
		{stream.Webhook, "https://[::ffff:127.0.0.1]/hook"},
		{stream.Webhook, "https://10.1.2.3/hook"},
		{stream.Webhook, "https://172.16.0.1/hook"},
		{stream.Webhook, "https://192.168.1.1/hook"},
		{stream.Webhook, "https://169.254.169.254/latest/meta-data/"},
		{stream.Webhook, "https://[fe80::1]/hook"},
		{stream.Webhook, "https://[fd00::1]/hook"},
		{stream.Webhook, "https://100.64.0.1/hook"},
		{stream.Webhook, "https://0.0.0.0/hook"},
		{stream.Webhook, "https://[::]/hook"},
		{stream.Webhook, "https://224.0.0.1/hook"},
		{stream.Webhook, "https://localhost/hook"},
		{stream.Webhook, "https://LOCALHOST./hook"},
		{stream.Webhook, "https://api.localhost/hook"},
		{stream.Webhook, "https://2130706433/hook"},
		{stream.Webhook, "https://0x7f.0.0.1/hook"},
		{stream.Webhook, "http://93.184.216.34/hook"},
		{stream.Webhook, "https://user:s3cr3t@93.184.216.34/hook"},
		{stream.Webhook, "ftp://93.184.216.34/hook"},
		{stream.Webhook, "/relative"},
		{stream.Webhook, "https://93.184.216.34/" + strings.Repeat("a", stream.MaxURLLen)},
		{stream.SplunkHEC, "https://10.0.0.5:8088/services/collector/event"},
		{stream.Syslog, "tcp://127.0.0.1:514"},
		{stream.Syslog, "tls://[::1]:6514"},
		{stream.Syslog, "tcp://93.184.216.34"},
		{stream.Syslog, "udp://93.184.216.34:514"},
		{stream.Syslog, "tcp://93.184.216.34:514/path"},
		{stream.Syslog, "https://93.184.216.34:514"},
	}
	if name := loopbackName(); name != "" {
		refused = append(refused, struct{ typ, url string }{stream.Webhook, "https://" + name + "/hook"})
	}
	for _, c := range refused {
		err := stream.CheckURL(ctx, c.typ, c.url, false)
		if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "url" {
			t.Errorf("%s %q: %v, want invalid_parameter on url", c.typ, c.url, err)
		}
		if strings.Contains(auditlog.ErrorMessage(err), "s3cr3t") {
			t.Errorf("%q: the message repeats the credential: %v", c.url, err)
		}
	}
	for _, c := range []struct{ typ, url string }{
		{stream.Webhook, "https://93.184.216.34/hook?x=1"},
		{stream.SplunkHEC, "https://93.184.216.34:8088/services/collector/event"},
		{stream.Syslog, "tcp://93.184.216.34:514"},
		{stream.Syslog, "tls://[2606:2800:220:1::1]:6514"},
	} {
		if err := stream.CheckURL(ctx, c.typ, c.url, false); err != nil {
			t.Errorf("%s %q: %v", c.typ, c.url, err)
		}
	}
	for _, c := range []struct{ typ, url string }{
		{stream.Webhook, "http://127.0.0.1:8080/hook"},
		{stream.Syslog, "tcp://localhost:514"},
		{stream.SplunkHEC, "https://10.0.0.5:8088/services/collector/event"},
	} {
		if err := stream.CheckURL(ctx, c.typ, c.url, true); err != nil {
			t.Errorf("allowed private %s %q: %v", c.typ, c.url, err)
		}
	}
	if err := stream.CheckURL(ctx, "ftp", "https://93.184.216.34/", false); auditlog.ErrorParam(err) != "type" {
		t.Errorf("unknown type: %v", err)
	}
}

// TestDialTimeRecheck checks that a sender not allowed private destinations
// refuses to connect to one whatever its URL said: nothing reaches the
// receivers, and the reason names no address.
func TestDialTimeRecheck(t *testing.T) {
	s := openLog(t)
	entries := write(t, storetest.Writer(t, s), "usr_ana", "", 1)
	hook := streamtest.NewWebhookReceiver(t, []byte("k"))
	sys := streamtest.NewSyslogReceiver(t, false)
	urls := map[string]string{stream.Webhook: hook.URL(), stream.Syslog: sys.URL()}
	if name := loopbackName(); name != "" { // a name that looks public to the URL's shape check
		urls["name"] = strings.Replace(hook.URL(), "127.0.0.1", name, 1)
	}
	for what, url := range urls {
		typ := what
		if what == "name" {
			typ = stream.Webhook
		}
		snd, err := stream.NewSender(stream.Destination{ID: "str_x", Type: typ, URL: url}, []byte("k"), stream.SenderOptions{RootCAs: hook.RootCAs()})
		if err != nil {
			// http:// is refused by shape without AllowPrivate; the webhook receiver is https.
			t.Fatalf("%s: %v", what, err)
		}
		err = snd.Send(context.Background(), entries)
		snd.Close()
		if err == nil || !strings.Contains(stream.Reason(err), "not public") || strings.Contains(stream.Reason(err), "127.0.0.1") {
			t.Errorf("%s: got %v, want a refused dial", what, err)
		}
	}
	if n, _, _ := hook.Stats(); n != 0 {
		t.Errorf("the webhook receiver got %d requests", n)
	}
	if n := sys.Connections(); n != 0 {
		t.Errorf("the syslog receiver got %d connections", n)
	}
}
