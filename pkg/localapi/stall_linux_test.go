package localapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestServerDropsStalledBody: a request whose body stops arriving is
// answered 408 once BodyTimeout runs out and its connection is closed,
// instead of holding a goroutine, a buffer and an fd for as long as the
// client keeps the connection open.
func TestServerDropsStalledBody(t *testing.T) {
	s := startServer(t, t.TempDir(), ListenOptions{}, HandlerOptions{BodyTimeout: 200 * time.Millisecond})
	c, err := net.Dial("unix", s.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /v1/jobs HTTP/1.1\r\nHost: "+Host+"\r\nContent-Length: 100\r\n\r\n{\"disks\":"); err != nil {
		t.Fatal(err)
	}
	// The connection stays open: only the server can end this.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("408 body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection left open after the 408: %v", err)
	}
	if n := len(s.fake.calls()); n != 0 {
		t.Fatalf("backend called %d times for an unfinished request", n)
	}
}

// TestServerSlowBodyWithinTimeout: a body that arrives in pieces, each
// well within BodyTimeout of the start, is served as usual, and the
// connection then serves a long wait without the body's deadline.
func TestServerSlowBodyWithinTimeout(t *testing.T) {
	s := startServer(t, t.TempDir(), ListenOptions{}, HandlerOptions{BodyTimeout: 2 * time.Second})
	c, err := net.Dial("unix", s.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"trigger":"manual"}`
	if _, err := io.WriteString(c, "POST /v1/jobs HTTP/1.1\r\nHost: "+Host+"\r\nContent-Length: 20\r\n\r\n"+body[:5]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := io.WriteString(c, body[5:]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	// The same connection, idle past BodyTimeout, still serves.
	time.Sleep(2500 * time.Millisecond)
	if _, err := io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: "+Host+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("kept-alive connection after the body deadline: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health status %d", resp.StatusCode)
	}
}
