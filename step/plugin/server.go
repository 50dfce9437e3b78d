package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultListen is the address the sidecar listens on by default.
const DefaultListen = ":9765"

// ServerOptions tunes Serve. Zero fields take the defaults below.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading request headers (slow-loris); 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; 30s.
	ReadTimeout time.Duration
	// IdleTimeout bounds a kept-alive connection between requests; 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits request headers; 64 KiB.
	MaxHeaderBytes int
	// ShutdownGrace is how long in-flight steps may finish once ctx is
	// done; 25s, inside Kubernetes' default 30s termination grace period.
	ShutdownGrace time.Duration
	// Logger receives server-level lines; nil discards.
	Logger *slog.Logger
}

func (o *ServerOptions) defaults() {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 25 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// drainer is a handler whose work outlives its requests.
type drainer interface {
	Drain(ctx context.Context) error
}

// Serve serves h on ln until ctx is done, then stops accepting connections
// and waits up to opts.ShutdownGrace for in-flight requests before closing
// what remains; a handler with a Drain method (Handler) is drained within
// the same grace period. It returns nil after a clean shutdown. There is no
// write timeout: a call waits at most JobOptions.AnswerWithin for its step.
// Steps run with a context that is not cancelled by ctx, so that a SIGTERM
// lets them finish within the grace period.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServerOptions) error {
	opts.defaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	opts.Logger.Info("listening", slog.String("addr", ln.Addr().String()))

	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	opts.Logger.Info("shutting down; waiting for in-flight steps", slog.Duration("grace", opts.ShutdownGrace))
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	// Steps outlive their requests (see Handler); they get what is left of
	// the same grace period.
	if d, ok := h.(drainer); ok {
		if derr := d.Drain(sctx); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil {
		err = fmt.Errorf("shutting down on %s: in-flight steps did not finish within %s: %w", ln.Addr(), opts.ShutdownGrace, err)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	if err == nil {
		opts.Logger.Info("stopped")
	}
	return err
}
