package plugin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/argo-refs/argo-refs/step"
	"github.com/argo-refs/argo-refs/step/kargo"
)

// ExecutePath is the one method a StepPlugin serves.
const ExecutePath = "/api/v1/step.execute"

// HealthPath answers 200 "ok" without auth, for liveness probes.
const HealthPath = "/healthz"

// DefaultMaxBodyBytes is the largest request body accepted by default.
const DefaultMaxBodyBytes = 1 << 20

// StepFunc runs one step: a step.Runner's Run method, which the server keeps
// for its life so that calls share what it has read, or a test's double.
type StepFunc func(ctx context.Context, kind step.Kind, sc step.Context, config []byte, opts step.Options) step.Result

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	// Token returns the bearer token requests must carry. It is called on
	// every request. Nil, or a nil or empty token, refuses every request to
	// /api/v1/ unless NoAuth is set.
	Token func() []byte
	// NoAuth accepts requests without a token. For local experiments only.
	NoAuth bool
	// MaxBodyBytes limits a request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per request and is handed to the step; nil
	// discards. Step configs are never logged.
	Logger *slog.Logger
	// Getenv is passed to the step as step.Options.Getenv.
	Getenv func(string) string
	// Jobs bounds the steps that run detached from their requests.
	Jobs JobOptions
}

// Handler serves the StepPlugin API. Each step runs detached from the
// request that asked for it, so that it survives the caller's timeout; a
// call that repeats a step joins it or gets its finished answer.
type Handler struct {
	run  StepFunc
	opts HandlerOptions
	log  *slog.Logger
	jobs *jobs
}

// NewHandler returns the StepPlugin HTTP API: POST ExecutePath runs a step,
// GET HealthPath answers "ok". It is safe for concurrent requests.
func NewHandler(run StepFunc, opts HandlerOptions) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	opts.Jobs.defaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{run: run, opts: opts, log: log, jobs: newJobs(opts.Jobs)}
}

// Drain waits until no step is running. When ctx ends first, it cancels
// the steps still running and returns an error wrapping ctx's. Serve calls
// it after the server has stopped taking requests.
func (h *Handler) Drain(ctx context.Context) error { return h.jobs.drain(ctx) }

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == HealthPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.reject(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use GET", r.Method, HealthPath))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		// Auth comes first so that nothing about the API is revealed to a
		// caller without the token.
		if !h.authorized(r) {
			h.reject(w, r, http.StatusForbidden, "missing or wrong bearer token")
			return
		}
		if r.URL.Path != ExecutePath {
			h.reject(w, r, http.StatusNotFound, fmt.Sprintf("unknown method %s; this plugin serves %s", r.URL.Path, ExecutePath))
			return
		}
		h.execute(w, r)
	default:
		h.reject(w, r, http.StatusNotFound, fmt.Sprintf("no such path %s", r.URL.Path))
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.NoAuth {
		return true
	}
	var want []byte
	if h.opts.Token != nil {
		want = h.opts.Token()
	}
	if len(want) == 0 {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got = strings.TrimSpace(got)
	return subtle.ConstantTimeCompare([]byte(got), want) == 1
}

func (h *Handler) execute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use POST", r.Method, ExecutePath))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.reject(w, r, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q not supported; use application/json", r.Header.Get("Content-Type")))
		return
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		h.reject(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, h.opts.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.reject(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", h.opts.MaxBodyBytes))
			return
		}
		h.reject(w, r, http.StatusBadRequest, fmt.Sprintf("reading request body: %v", err))
		return
	}
	req, err := decodeRequest(body)
	if err != nil {
		h.reject(w, r, http.StatusBadRequest, err.Error())
		return
	}

	alias := req.Step.Alias
	if alias == "" {
		alias = req.Context.Alias
	}
	log := h.log.With(
		slog.String("project", req.Context.Project),
		slog.String("promotion", req.Context.Promotion),
		slog.String("stage", req.Context.Stage),
		slog.String("alias", alias),
		slog.String("kind", req.Step.Kind),
	)
	config := []byte(req.Step.Config)
	if isAbsent(config) {
		// An encoder may write a step without config as "config": null;
		// the context carries the same evaluated config.
		config = []byte(req.Context.Config)
	}
	key := jobKey(req, alias, config)
	j, joined := h.jobs.join(key, func(ctx context.Context) kargo.StepResponse {
		return h.respond(ctx, req, alias, config, log)
	})
	var resp kargo.StepResponse
	finished := false
	if j == nil {
		resp = kargo.StepResponse{
			Status:     kargo.StatusRunning,
			Message:    fmt.Sprintf("%d steps are running in this plugin, its limit; this one has not started, and Kargo will call again", h.opts.Jobs.MaxRunning),
			RetryAfter: h.opts.Jobs.RetryAfter.String(),
		}
	} else {
		wait := time.NewTimer(h.opts.Jobs.AnswerWithin)
		defer wait.Stop()
		select {
		case <-j.done:
			resp, finished = j.resp, true
		case <-wait.C:
			resp = kargo.StepResponse{
				Status:     kargo.StatusRunning,
				Message:    fmt.Sprintf("%s is still running (started %s ago); Kargo will call again", req.Step.Kind, time.Since(j.started).Round(time.Second)),
				RetryAfter: h.opts.Jobs.RetryAfter.String(),
			}
		case <-r.Context().Done():
			// The caller gave up (its own timeout); the step goes on,
			// and the caller's next call joins it.
			log.LogAttrs(context.Background(), slog.LevelInfo, "caller went away; the step goes on",
				slog.Bool("joined", joined), slog.Duration("duration", time.Since(start)))
			return
		}
	}
	log.LogAttrs(r.Context(), levelFor(resp.Status), "step executed",
		slog.Int("code", http.StatusOK),
		slog.String("status", string(resp.Status)),
		slog.Bool("terminal", resp.Terminal),
		slog.Bool("joined", joined),
		slog.String("message", resp.Message),
		slog.String("error", resp.Error),
		slog.Duration("duration", time.Since(start)),
	)
	if writeJSON(w, http.StatusOK, resp) == nil && finished {
		h.jobs.delivered(key, j)
	}
}

// respond runs the step and translates its Result, adding nothing.
func (h *Handler) respond(ctx context.Context, req kargo.StepRequest, alias string, config []byte, log *slog.Logger) (resp kargo.StepResponse) {
	kind, ok := knownKind(req.Step.Kind)
	if !ok {
		msg := fmt.Sprintf("unknown step kind %q; this plugin runs %s", req.Step.Kind, kindList())
		return kargo.StepResponse{Status: kargo.StatusFailed, Message: msg, Error: msg, Terminal: true}
	}
	sc := step.Context{
		Project:        req.Context.Project,
		Stage:          req.Context.Stage,
		Promotion:      req.Context.Promotion,
		PromotionActor: req.Context.PromotionActor,
		Alias:          alias,
		WorkDir:        req.Context.WorkDir,
		Freight:        req.Context.Freight,
	}
	defer func() {
		// A panic in the step must not take down the sidecar serving
		// other promotions; Kargo may retry an Errored step.
		if p := recover(); p != nil {
			log.Error("step panicked", slog.String("panic", fmt.Sprint(p)))
			msg := "the step failed unexpectedly (internal error); see the plugin's log"
			resp = kargo.StepResponse{Status: kargo.StatusErrored, Message: msg, Error: msg}
		}
	}()
	res := h.run(ctx, kind, sc, config, step.Options{Getenv: h.opts.Getenv, Logger: log})
	return toResponse(res)
}

// isAbsent reports whether a raw JSON value is missing or null.
func isAbsent(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func toResponse(res step.Result) kargo.StepResponse {
	resp := kargo.StepResponse{
		Status:      res.Status,
		Message:     res.Message,
		Output:      res.Output,
		Terminal:    res.Terminal,
		HealthCheck: res.HealthCheck,
	}
	if res.Err != nil {
		resp.Error = res.Err.Error()
	}
	if resp.Status == "" {
		resp.Status = kargo.StatusErrored
		if resp.Error == "" {
			resp.Error = "the step returned no status"
		}
	}
	return resp
}

// decodeRequest parses a StepRequest, refusing unknown top-level fields and
// trailing data. Fields inside "context" are left open, since Kargo adds to
// it over time.
func decodeRequest(body []byte) (kargo.StepRequest, error) {
	var req kargo.StepRequest
	var top map[string]json.RawMessage
	if err := strictUnmarshal(body, &top); err != nil {
		return req, fmt.Errorf("parsing request body: %w", err)
	}
	if top == nil {
		return req, errors.New("parsing request body: expected a JSON object, found null")
	}
	for k := range top {
		if k != "context" && k != "step" {
			return req, fmt.Errorf("parsing request body: unknown field %q; expected only \"context\" and \"step\"", k)
		}
	}
	if _, ok := top["step"]; !ok {
		return req, errors.New("parsing request body: missing field \"step\"")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("parsing request body: %w", err)
	}
	return req, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func knownKind(s string) (step.Kind, bool) {
	for _, k := range step.Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

func kindList() string {
	names := make([]string, len(step.Kinds))
	for i, k := range step.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func levelFor(s kargo.StepStatus) slog.Level {
	switch s {
	case kargo.StatusSucceeded, kargo.StatusSkipped, kargo.StatusRunning:
		return slog.LevelInfo
	case kargo.StatusErrored:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func (h *Handler) reject(w http.ResponseWriter, r *http.Request, code int, reason string) {
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("code", code),
		slog.String("reason", reason),
	)
	_ = writeJSON(w, code, errorBody{Error: reason})
}

// writeJSON answers with v as JSON and reports whether the body was
// written whole (nil) or not.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		// Outputs hold only JSON-able values; if one is not, say so
		// rather than send half a body.
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: fmt.Sprintf("encoding response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if _, werr := w.Write(append(b, '\n')); werr != nil {
		return werr
	}
	return err
}
