package plugin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argo-refs/argo-refs/internal/logbuf"
	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := NewHandler((&recorder{}).run, HandlerOptions{NoAuth: true})
	go func() { done <- Serve(ctx, ln, h, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request, then nothing: the headers never end.
	if _, err := io.WriteString(conn, "POST /api/v1/step.execute HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// The safety deadline is far beyond the header timeout; reaching it
	// means the server kept the connection open.
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
	if strings.Contains(string(b), "200 OK") {
		t.Fatalf("the server answered an unfinished request: %q", b)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	ln := listen(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	run := func(ctx context.Context, _ step.Kind, _ step.Context, _ []byte, _ step.Options) step.Result {
		close(entered)
		<-release
		if ctx.Err() != nil {
			return step.Result{Status: kargo.StatusErrored, Message: "cancelled"}
		}
		return step.Result{Status: kargo.StatusSucceeded, Message: "finished"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, NewHandler(run, HandlerOptions{NoAuth: true}), ServerOptions{ShutdownGrace: time.Minute})
	}()

	type answer struct {
		code int
		body []byte
		err  error
	}
	answers := make(chan answer, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+ExecutePath, "application/json", bytes.NewReader(requestBody(t)))
		if err != nil {
			answers <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answers <- answer{resp.StatusCode, b, err}
	}()

	<-entered
	cancel() // as SIGTERM does
	// Wait until shutdown has begun: the listener is closed.
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a step was in flight", err)
	case a := <-answers:
		t.Fatalf("the request was answered before the step finished: %+v", a)
	default:
	}
	close(release)
	a := <-answers
	if a.err != nil || a.code != 200 {
		t.Fatalf("in-flight request: code %d err %v body %s", a.code, a.err, a.body)
	}
	if got := decodeResponse(t, a.body); got.Status != kargo.StatusSucceeded || got.Message != "finished" {
		t.Errorf("in-flight response = %+v, want Succeeded finished (step context must survive SIGTERM)", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v, want nil after a clean shutdown", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts connections after shutdown")
	}
}

func TestShutdownGraceExceeded(t *testing.T) {
	ln := listen(t)
	entered := make(chan struct{})
	run := func(ctx context.Context, _ step.Kind, _ step.Context, _ []byte, _ step.Options) step.Result {
		close(entered)
		<-ctx.Done() // only the forced close ends this step
		return step.Result{Status: kargo.StatusErrored}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, NewHandler(run, HandlerOptions{NoAuth: true}), ServerOptions{ShutdownGrace: 50 * time.Millisecond})
	}()
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+ExecutePath, "application/json", bytes.NewReader(requestBody(t)))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

func TestServeLogsItsAddress(t *testing.T) {
	ln := listen(t)
	var logs logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, NewHandler((&recorder{}).run, HandlerOptions{}), ServerOptions{Logger: newJSONLogger(&logs)})
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	found := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"listening"`) && strings.Contains(sc.Text(), ln.Addr().String()) {
			found = true
		}
	}
	if !found {
		t.Errorf("no listening line with %s in:\n%s", ln.Addr(), logs.String())
	}
}

func TestLoadTokenFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTokenFile(filepath.Join(dir, "missing")); !errors.Is(err, ErrNoToken) {
		t.Errorf("missing file: err = %v, want ErrNoToken", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokenFile(empty); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty file: err = %v, want ErrNoToken", err)
	}

	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("first-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tf.every = 0 // read on every call
	if got := string(tf.Token()); got != "first-token" {
		t.Fatalf("token = %q, want first-token (trimmed)", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A rotation that keeps the size and the modification time.
	if err := os.WriteFile(path, []byte("other-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := string(tf.Token()); got != "other-token" {
		t.Errorf("after a same-size, same-time rotation token = %q, want other-token", got)
	}
	// Emptied, then deleted: revoked, no token accepted.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := tf.Token(); got != nil {
		t.Errorf("after emptying token = %q, want none", got)
	}
	if err := os.WriteFile(path, []byte("back"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := string(tf.Token()); got != "back" {
		t.Errorf("after a new token token = %q, want back", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := tf.Token(); got != nil {
		t.Errorf("after deleting the file token = %q, want none", got)
	}
}

// TestTokenFileRereadsAtMostOnceASecond: the file is read again by
// content, but not on every request.
func TestTokenFileRereadsAtMostOnceASecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := string(tf.Token()); got != "one" {
		t.Errorf("right after loading token = %q, want the loaded one", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for string(tf.Token()) != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the rotated token was not read within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRotatedTokenIsEnforced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tf.every = 0
	rec := &recorder{result: step.Result{Status: kargo.StatusSucceeded}}
	srv := newTestServer(t, rec.run, HandlerOptions{Token: tf.Token})
	auth := func(tok string) int {
		resp, _ := post(t, srv.URL+ExecutePath, header(map[string]string{"Authorization": "Bearer " + tok}), requestBody(t))
		return resp.StatusCode
	}
	if c := auth("old"); c != 200 {
		t.Fatalf("old token before rotation: %d", c)
	}
	if err := os.WriteFile(path, []byte("newer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := auth("old"); c != 403 {
		t.Errorf("old token after rotation: %d, want 403", c)
	}
	if c := auth("newer"); c != 200 {
		t.Errorf("new token after rotation: %d, want 200", c)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if c := auth("newer"); c != 403 {
		t.Errorf("token after the file was deleted: %d, want 403", c)
	}
}
