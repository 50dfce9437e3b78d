package faults

import (
	"bytes"
	"net/http"
)

// CorruptWriter damages a response on its way out, for a test handler to
// wrap around the real one: it passes the first At bytes and drops the
// rest, so the response ends cleanly but short, as a proxy that drops a
// connection in the middle would; or, with Flip, it passes the whole
// response with byte At inverted. A negative At passes everything.
type CorruptWriter struct {
	http.ResponseWriter
	At   int64
	Flip bool
	// N counts the bytes the handler wrote.
	N int64
	// Head keeps the first 1 KiB the handler wrote.
	Head []byte
}

// Write implements http.ResponseWriter.
func (w *CorruptWriter) Write(p []byte) (int, error) {
	start := w.N
	w.N += int64(len(p))
	if room := 1024 - len(w.Head); room > 0 {
		w.Head = append(w.Head, p[:min(room, len(p))]...)
	}
	switch {
	case w.At < 0:
	case w.Flip:
		if w.At >= start && w.At < w.N {
			q := bytes.Clone(p)
			q[w.At-start] ^= 0xff
			p = q
		}
	case start >= w.At:
		return len(p), nil
	case w.N > w.At:
		_, err := w.ResponseWriter.Write(p[:w.At-start])
		return len(p), err
	}
	return w.ResponseWriter.Write(p)
}
