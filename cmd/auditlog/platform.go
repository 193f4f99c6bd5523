package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/guaracloud/auditlog/client"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/platform"
	"github.com/guaracloud/auditlog/remotesink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

// platformFlags configure `auditlog demo-platform`.
type platformFlags struct {
	addr, auditURL, auditToken, spoolDir string
	failOpen                             bool
	trusted                              []string
	maxSpoolBytes                        int64
}

func newDemoPlatform() *cobra.Command {
	var f platformFlags
	cmd := &cobra.Command{
		Use:   "demo-platform",
		Short: "Run the sample Guara control plane, every mutation audited to a remote audit log",
		Long: "Run the sample control plane (projects, members, services with registry credentials, deploys,\n" +
			"env vars, cron workers) in memory. Users authenticate as 'Authorization: Bearer <user_id>'.\n" +
			"Each mutation is spooled to disk (fsync) before its response is released, then delivered\n" +
			"to --audit-url with the writer token, with retries. /metrics shows spool depth and delivery lag.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlatform(cmd.Context(), f, newLogger(cmd.ErrOrStderr(), "auto"))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.addr, "addr", ":8081", "listen address of the control plane")
	fs.StringVar(&f.auditURL, "audit-url", "http://localhost:8080", "base URL of the audit log service")
	fs.StringVar(&f.auditToken, "audit-token", "", "writer token for the audit log (auditlog token create --writer)")
	fs.StringVar(&f.spoolDir, "spool-dir", "./audit-spool", "durable spool directory (one per process)")
	fs.BoolVar(&f.failOpen, "fail-open", false, "when the spool is full, run mutations anyway and count the loss (default: answer 503)")
	fs.StringSliceVar(&f.trusted, "trusted-proxy", nil, "CIDRs of proxies whose X-Forwarded-For / Forwarded is believed")
	fs.Int64Var(&f.maxSpoolBytes, "max-spool-bytes", 0, "spool bound in bytes (0: the default)")
	return cmd
}

// runPlatform serves the sample control plane until ctx ends, then flushes the spool.
func runPlatform(ctx context.Context, f platformFlags, log *slog.Logger) error {
	if f.auditToken == "" {
		return errors.New("demo-platform: --audit-token (a writer token) is required")
	}
	var proxies []netip.Prefix
	for _, c := range f.trusted {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("demo-platform: --trusted-proxy %q: %w", c, err)
		}
		proxies = append(proxies, p)
	}
	reg := prometheus.NewRegistry()
	sink, err := remotesink.New(remotesink.Config{
		Dir: f.spoolDir, URL: f.auditURL, Token: f.auditToken, MaxBytes: f.maxSpoolBytes, Registry: reg, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("demo-platform: %w", err)
	}
	owners, err := client.New(f.auditURL, f.auditToken)
	if err != nil {
		return fmt.Errorf("demo-platform: %w", err)
	}
	mode := interceptor.FailClosed
	if f.failOpen {
		mode = interceptor.FailOpen
	}
	p := platform.New(platform.Config{
		Audit:          interceptor.Config{Sink: sink, TrustedProxies: proxies, Mode: mode, Logger: log},
		OnProjectOwner: owners.SetProjectOwner,
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", p)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("demo-platform: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("sample control plane listening", "addr", ln.Addr().String(), "audit", "remote", "mode", map[bool]string{true: "fail-open", false: "fail-closed"}[f.failOpen])
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("demo-platform: %w", err)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(shutdown), sink.Close(shutdown))
}
