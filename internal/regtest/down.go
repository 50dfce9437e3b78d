package regtest

import (
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
)

// dropListener accepts connections and, while down is set, closes each one
// at once: the port stays held by the test, so no other test can take it
// while this one expects it to be dead.
type dropListener struct {
	net.Listener
	down *atomic.Bool
}

func (l dropListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.down.Load() {
			return c, err
		}
		_ = c.Close()
	}
}

// Down makes the registry's Host accept and immediately close every
// connection, open ones included, for the rest of the test: a registry that
// is down, on a port that no parallel test can take over (as one could after
// Close).
func (r *Registry) Down() {
	r.down.Store(true)
	r.srv.CloseClientConnections()
}

// RefusingHost returns 127.0.0.1:<port> for a port that refuses every
// connection (the kernel answers RST, "connection refused") and stays
// reserved until the test ends: the socket is bound but never listens.
func RefusingHost(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("getsockname: unexpected address %T", sa)
	}
	return "127.0.0.1:" + strconv.Itoa(in4.Port)
}
