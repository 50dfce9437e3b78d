package gitrepo_test

import (
	"io"
	"log/slog"
)

func slogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
