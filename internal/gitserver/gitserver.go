// Package gitserver serves Git repositories over the smart HTTP protocol with
// go-git's own server, so that the demo needs no git installation.
package gitserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// Server maps URL paths such as "/gitops.git" to repositories.
type Server struct {
	mu    sync.Mutex // go-git storages are not safe for concurrent writers
	repos map[string]storer.Storer
}

// New returns a Server with no repositories.
func New() *Server { return &Server{repos: map[string]storer.Storer{}} }

// Add serves st at path (e.g. "/gitops.git").
func (s *Server) Add(path string, st storer.Storer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[path] = st
}

// Load implements server.Loader.
func (s *Server) Load(ep *transport.Endpoint) (storer.Storer, error) {
	st, ok := s.repos[ep.Path]
	if !ok {
		return nil, transport.ErrRepositoryNotFound
	}
	return st, nil
}

// ServeHTTP answers info/refs, git-upload-pack and git-receive-pack.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var repo, service string
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
		repo, service = strings.TrimSuffix(r.URL.Path, "/info/refs"), r.URL.Query().Get("service")
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		repo, service = strings.TrimSuffix(r.URL.Path, "/git-upload-pack"), transport.UploadPackServiceName
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		repo, service = strings.TrimSuffix(r.URL.Path, "/git-receive-pack"), transport.ReceivePackServiceName
	default:
		http.NotFound(w, r)
		return
	}
	if service != transport.UploadPackServiceName && service != transport.ReceivePackServiceName {
		http.Error(w, "unsupported service", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[repo]; !ok {
		http.NotFound(w, r)
		return
	}
	ep, err := transport.NewEndpoint("http://localhost" + repo)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet {
		s.advertise(w, r, ep, service)
		return
	}
	w.Header().Set("Content-Type", "application/x-"+service+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	if err := s.serve(w, r, ep, service); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (s *Server) advertise(w http.ResponseWriter, r *http.Request, ep *transport.Endpoint, service string) {
	var ar *packp.AdvRefs
	var err error
	srv := server.NewServer(s)
	if service == transport.UploadPackServiceName {
		var sess transport.UploadPackSession
		if sess, err = srv.NewUploadPackSession(ep, nil); err == nil {
			ar, err = sess.AdvertisedReferencesContext(r.Context())
		}
	} else {
		var sess transport.ReceivePackSession
		if sess, err = srv.NewReceivePackSession(ep, nil); err == nil {
			ar, err = sess.AdvertisedReferencesContext(r.Context())
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ar.Prefix = [][]byte{[]byte(fmt.Sprintf("# service=%s", service)), pktline.Flush}
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	_ = ar.Encode(w)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, ep *transport.Endpoint, service string) error {
	srv := server.NewServer(s)
	if service == transport.UploadPackServiceName {
		sess, err := srv.NewUploadPackSession(ep, nil)
		if err != nil {
			return err
		}
		req := packp.NewUploadPackRequest()
		if err := req.Decode(r.Body); err != nil {
			return fmt.Errorf("decoding the upload-pack request: %w", err)
		}
		resp, err := sess.UploadPack(r.Context(), req)
		if err != nil {
			return err
		}
		return resp.Encode(w)
	}
	sess, err := srv.NewReceivePackSession(ep, nil)
	if err != nil {
		return err
	}
	if _, err := sess.AdvertisedReferencesContext(r.Context()); err != nil {
		return err
	}
	req := packp.NewReferenceUpdateRequest()
	if err := req.Decode(r.Body); err != nil {
		return fmt.Errorf("decoding the receive-pack request: %w", err)
	}
	// go-git's server sets the ref whatever its old value (last writer
	// wins); git refuses an update whose old value is not the ref's, and
	// so does this server (s.mu is held, so nothing moves in between).
	if rs := staleUpdates(s.repos[ep.Path], req); rs != nil {
		if req.Packfile != nil {
			_ = req.Packfile.Close()
		}
		return rs.Encode(w)
	}
	rs, err := sess.ReceivePack(r.Context(), req)
	if rs != nil {
		return rs.Encode(w)
	}
	return err
}

// staleUpdates returns a report refusing every command of req whose old
// value is not where its ref is (as git's receive-pack answers "ng <ref>
// stale info"), or nil when all match.
func staleUpdates(st storer.Storer, req *packp.ReferenceUpdateRequest) *packp.ReportStatus {
	var stale bool
	rs := packp.NewReportStatus()
	rs.UnpackStatus = "ok"
	for _, cmd := range req.Commands {
		status := "ok"
		cur, err := st.Reference(cmd.Name)
		switch {
		case err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound):
			status = err.Error()
		case err == nil && cur.Hash() != cmd.Old && !cmd.Old.IsZero():
			status = "stale info"
		case err != nil && !cmd.Old.IsZero():
			status = "stale info"
		}
		if status != "ok" {
			stale = true
		}
		rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: cmd.Name, Status: status})
	}
	if !stale {
		return nil
	}
	return rs
}
