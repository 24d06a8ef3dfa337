package localapi

import (
	"context"
	"testing"
)

// BenchmarkHealthRoundTrip measures what the CLI pays to reach the daemon:
// "fresh" is a new client per iteration (dial, peer credentials and /proc
// reads on the server, request, answer), as a CLI process does once;
// "reused" is a request on a kept-alive connection.
func BenchmarkHealthRoundTrip(b *testing.B) {
	s := startServer(b, b.TempDir(), ListenOptions{}, HandlerOptions{})
	ctx := context.Background()
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			c := NewClient(s.socket)
			if _, err := c.Health(ctx); err != nil {
				b.Fatal(err)
			}
			c.CloseIdleConnections()
		}
	})
	b.Run("reused", func(b *testing.B) {
		c := NewClient(s.socket)
		defer c.CloseIdleConnections()
		for b.Loop() {
			if _, err := c.Health(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
