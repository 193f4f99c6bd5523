package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"github.com/spf13/cobra"
)

// newWitness builds `auditlog witness`: a C2SP tlog-witness a customer runs
// for our log, so that we cannot show them a history others do not see.
func newWitness() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Run your own C2SP tlog-witness for an audit log (init, serve)",
	}
	cmd.AddCommand(newWitnessInit(), newWitnessServe())
	return cmd
}

func newWitnessInit() *cobra.Command {
	var dir, name, origin, logKey string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Make the witness key and add a log to witness; prints the witness's verifier key",
		Long: "Makes the witness's Ed25519 key (DIR/" + witness.KeyFileName + ", mode 0600, kept if it exists) and adds the log\n" +
			"ORIGIN, signed by the verifier key LOG-KEY (text or file), to DIR/" + witness.StateFileName + ".\n" +
			"Run it again with another origin to witness several logs (restart serve after).\n" +
			"Prints the witness's cosignature verifier key: give it to the log's operator (--witness URL=VKEY).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range [][2]string{{"dir", dir}, {"origin", origin}, {"log-key", logKey}} {
				if f[1] == "" {
					return fmt.Errorf("witness init: --%s is required", f[0])
				}
			}
			key, err := readKeyArg(logKey)
			if err != nil {
				return fmt.Errorf("witness init: --log-key: %w", err)
			}
			vkey, err := witness.InitDir(dir, name, origin, key)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), vkey)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the witness's directory (key and state)")
	cmd.Flags().StringVar(&name, "name", witness.DefaultWitnessName, "the witness's key name, on every cosignature (kept from the first init)")
	cmd.Flags().StringVar(&origin, "origin", "", "the origin line of the log's checkpoints (GET /v1/checkpoint shows it)")
	cmd.Flags().StringVar(&logKey, "log-key", "", "the log's verifier key (name+hash+base64), or a file holding it")
	return cmd
}

func newWitnessServe() *cobra.Command {
	ws := &witnessServer{}
	var logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve POST /add-checkpoint (C2SP tlog-witness) for the logs of --dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ws.Dir == "" {
				return errors.New("witness serve: --dir is required")
			}
			ws.Logger = newLogger(cmd.ErrOrStderr(), logFormat)
			if err := ws.Start(); err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
			case err := <-ws.done:
				if err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return ws.Close(ctx)
		},
	}
	cmd.Flags().StringVar(&ws.Dir, "dir", "", "the witness's directory, made by auditlog witness init")
	cmd.Flags().StringVar(&ws.Addr, "addr", ":7380", "listen address")
	cmd.Flags().DurationVar(&ws.RequestTimeout, "request-timeout", 30*time.Second, "deadline of every request")
	cmd.Flags().StringVar(&logFormat, "log-format", "auto", "log format: auto (text on a terminal, else json), text or json")
	return cmd
}

// readKeyArg returns a verifier key given as text or as a file holding it.
func readKeyArg(keyOrFile string) (string, error) {
	if _, err := integrity.ParseVerifierKey(keyOrFile); err != nil {
		return "", err
	}
	if raw, err := os.ReadFile(keyOrFile); err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	return strings.TrimSpace(keyOrFile), nil
}

// witnessServer runs a witness.Server on a listener.
type witnessServer struct {
	Dir            string
	Addr           string
	RequestTimeout time.Duration
	Logger         *slog.Logger

	ln   net.Listener
	srv  *http.Server
	done chan error
}

// Start opens the witness directory and starts serving.
func (ws *witnessServer) Start() error {
	if ws.Logger == nil {
		ws.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if ws.RequestTimeout <= 0 {
		ws.RequestTimeout = 30 * time.Second
	}
	w, err := witness.OpenServer(ws.Dir, ws.Logger, ws.RequestTimeout)
	if err != nil {
		return err
	}
	ws.ln, err = net.Listen("tcp", ws.Addr)
	if err != nil {
		return fmt.Errorf("witness serve: %w", err)
	}
	ws.srv = &http.Server{
		Handler:           w,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      ws.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(ws.Logger.Handler(), slog.LevelWarn),
	}
	ws.done = make(chan error, 1)
	go func() {
		if err := ws.srv.Serve(ws.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ws.done <- fmt.Errorf("witness serve: %w", err)
		}
		close(ws.done)
	}()
	ws.Logger.Info("witness listening", "addr", ws.ln.Addr().String(), "vkey", w.VerifierKey(), "logs", len(w.Origins()))
	return nil
}

// URL is the base URL the witness listens on.
func (ws *witnessServer) URL() string {
	return "http://" + ws.ln.Addr().String()
}

// Close stops the listener and waits for in-flight requests.
func (ws *witnessServer) Close(ctx context.Context) error {
	if ws.srv == nil {
		return nil
	}
	err := ws.srv.Shutdown(ctx)
	<-ws.done
	return err
}
