package ecsemu

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// MetadataAddress is the production metadata service address. The emulator
// answers proxy requests addressed to it, and can be bound to it inside a
// private network namespace.
const MetadataAddress = "100.100.100.200"

// Token-mode ("security hardening") headers.
const (
	MetadataTokenHeader    = "X-aliyun-ecs-metadata-token"
	MetadataTokenTTLHeader = "X-aliyun-ecs-metadata-token-ttl-seconds"
	maxMetadataTokenTTL    = 21600
)

// metadataVersions are the version prefixes; both serve the same tree.
var metadataVersions = []string{"2016-01-01", "latest"}

// MetadataHandler serves the instance metadata service of the scenario's
// Instance. It also answers absolute-form requests ("GET
// http://100.100.100.200/latest/...") so that a client whose HTTP_PROXY
// points at it reaches it as if on an instance.
func (e *Emulator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serveMetadata(e.instance, w, r) })
}

// InstanceMetadataHandler serves the metadata service as one of the
// scenario's instances sees it. The real service knows the asking instance
// by where the request comes from; here each instance gets its own handler
// (and listener). Tokens it issues are valid on it alone.
func (e *Emulator) InstanceMetadataHandler(instanceID string) (http.Handler, error) {
	in, ok := e.instanceByID[instanceID]
	if !ok {
		return nil, fmt.Errorf("instance %q is not in the scenario", instanceID)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serveMetadata(in, w, r) }), nil
}

func (e *Emulator) serveMetadata(in *instanceState, w http.ResponseWriter, r *http.Request) {
	f := e.Faults()
	if f.IMDSOutage {
		// A listener-level outage is a refused connection (see Server);
		// a bare handler can only cut the connection without an answer.
		panic(http.ErrAbortHandler)
	}
	if f.IMDSLatency > 0 && ctxsleep.Sleep(r.Context(), f.IMDSLatency) != nil {
		return
	}
	path, ok := metadataPath(r)
	if !ok {
		http.Error(w, "ecsemu: as a proxy this server only answers http://"+MetadataAddress+"/", http.StatusBadGateway)
		return
	}
	status, body := e.metadataAnswer(in, r, path)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	e.log.Debug("metadata", "instance", in.spec.ID, "method", r.Method, "path", path, "status", status)
}

// metadataPath returns the request path, accepting absolute-form requests
// only for the metadata address.
func metadataPath(r *http.Request) (string, bool) {
	if r.Method == http.MethodConnect {
		return "", false
	}
	if r.URL.IsAbs() {
		host := r.URL.Host
		if h, port, err := net.SplitHostPort(host); err == nil {
			if port != "80" {
				return "", false
			}
			host = h
		}
		if r.URL.Scheme != "http" || host != MetadataAddress {
			return "", false
		}
	}
	p := r.URL.Path
	if p == "" {
		p = "/"
	}
	return p, true
}

// metadataAnswer applies token mode and resolves the path.
func (e *Emulator) metadataAnswer(in *instanceState, r *http.Request, path string) (int, string) {
	if len(r.Header.Values("X-Forwarded-For")) > 0 {
		// The real service refuses anything that looks forwarded, so a
		// proxy on the instance cannot launder requests to it.
		return http.StatusForbidden, "Forbidden"
	}
	if e.sc.Metadata.Disabled {
		return http.StatusForbidden, "Forbidden"
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 2 && slices.Contains(metadataVersions, segs[0]) && segs[1] == "api" ||
		len(segs) == 3 && slices.Contains(metadataVersions, segs[0]) && segs[1] == "api" && segs[2] == "token" {
		if r.Method != http.MethodPut || len(segs) != 3 {
			return http.StatusMethodNotAllowed, "Method Not Allowed"
		}
		return e.issueMetadataToken(in, r)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return http.StatusMethodNotAllowed, "Method Not Allowed"
	}
	if status, ok := e.checkMetadataToken(in, r); !ok {
		return status, http.StatusText(status)
	}
	body, ok := e.metadataLookup(in, path)
	if !ok {
		return http.StatusNotFound, "Not Found"
	}
	return http.StatusOK, body
}

// mdToken is an issued metadata token: valid until expires, on the
// metadata service of one instance.
type mdToken struct {
	instance string
	expires  time.Time
}

func (e *Emulator) issueMetadataToken(in *instanceState, r *http.Request) (int, string) {
	ttl, err := strconv.Atoi(r.Header.Get(MetadataTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > maxMetadataTokenTTL {
		return http.StatusBadRequest, "Bad Request"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	for t, old := range e.mdTokens {
		if !now.Before(old.expires) {
			delete(e.mdTokens, t)
		}
	}
	tok := e.randomToken(56)
	e.mdTokens[tok] = mdToken{instance: in.spec.ID, expires: now.Add(time.Duration(ttl) * time.Second)}
	return http.StatusOK, tok
}

// checkMetadataToken: a token, if sent, must be valid (401 otherwise);
// without one, a GET is refused (403) only when the instance requires tokens.
// A token another instance's metadata service issued is not valid here.
func (e *Emulator) checkMetadataToken(in *instanceState, r *http.Request) (int, bool) {
	tok := r.Header.Get(MetadataTokenHeader)
	if tok == "" {
		if e.sc.Metadata.TokenRequired {
			return http.StatusForbidden, false
		}
		return 0, true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.mdTokens[tok]
	if !ok || t.instance != in.spec.ID || !e.clock.Now().Before(t.expires) {
		return http.StatusUnauthorized, false
	}
	return 0, true
}

// ExpireMetadataTokens invalidates every metadata token issued so far.
func (e *Emulator) ExpireMetadataTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.mdTokens)
}

// metadataLookup resolves a path to a leaf's text or a directory listing
// (one entry per line, sub-directories with a trailing "/").
func (e *Emulator) metadataLookup(in *instanceState, path string) (string, bool) {
	trimmed := strings.Trim(path, "/")
	if trimmed == "" {
		return strings.Join(metadataVersions, "\n"), true
	}
	segs := strings.Split(trimmed, "/")
	if !slices.Contains(metadataVersions, segs[0]) {
		return "", false
	}
	tree := e.metadataTree(in)
	node := any(tree)
	for _, s := range segs[1:] {
		dir, ok := node.(mdDir)
		if !ok {
			return "", false
		}
		if node, ok = dir[s]; !ok {
			return "", false
		}
	}
	switch n := node.(type) {
	case mdDir:
		return n.listing(), true
	case string:
		if strings.HasSuffix(path, "/") {
			return "", false
		}
		return n, true
	}
	return "", false
}

// mdDir is a metadata directory: names to sub-directories or leaf texts.
type mdDir map[string]any

func (d mdDir) listing() string {
	names := make([]string, 0, len(d))
	for name, child := range d {
		if _, isDir := child.(mdDir); isDir {
			name += "/"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, "\n")
}

// metadataTree builds the tree of instance st from the current state.
func (e *Emulator) metadataTree(st *instanceState) mdDir {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	sc := e.sc
	in := st.spec
	disks := mdDir{}
	for _, d := range e.disks {
		if d.spec.Serial == "-" || d.attachedTo() != in.ID {
			continue
		}
		disks[d.spec.Serial] = mdDir{"id": d.spec.ID, "name": d.spec.Name}
	}
	creds := mdDir{}
	if c := e.currentCredential(now); c != nil {
		body, _ := json.Marshal(map[string]string{
			"AccessKeyId":     c.AccessKeyID,
			"AccessKeySecret": c.AccessKeySecret,
			"Expiration":      c.Expiration.UTC().Format(stsTimeFormat),
			"SecurityToken":   c.SecurityToken,
			"LastUpdated":     c.Issued.UTC().Format(stsTimeFormat),
			"Code":            "Success",
		})
		creds[sc.RAMRole.Name] = string(body)
	}
	doc, _ := json.Marshal(map[string]string{
		"account-id":       sc.AccountID,
		"owner-account-id": sc.AccountID,
		"instance-id":      in.ID,
		"region-id":        sc.Region,
		"zone-id":          in.ZoneID,
		"serial-number":    in.SerialNumber,
		"instance-type":    in.Type,
		"image-id":         in.ImageID,
	})
	metaData := mdDir{
		"instance-id":      in.ID,
		"region-id":        sc.Region,
		"zone-id":          in.ZoneID,
		"hostname":         in.Hostname,
		"image-id":         in.ImageID,
		"owner-account-id": sc.AccountID,
		"serial-number":    in.SerialNumber,
		"instance":         mdDir{"instance-type": in.Type},
		"disks":            disks,
	}
	if sc.RAMRole != nil {
		metaData["ram"] = mdDir{"security-credentials": creds}
	}
	return mdDir{
		"meta-data": metaData,
		"dynamic":   mdDir{"instance-identity": mdDir{"document": string(doc)}},
	}
}
