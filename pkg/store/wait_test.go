package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// OpenWait waits for a held store, saying so once, and gives up after its
// limit with an error that still matches ErrLocked.
func TestOpenWait(t *testing.T) {
	dir := t.TempDir()
	held, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	told := 0
	if _, err := OpenWait(context.Background(), dir, Options{}, 100*time.Millisecond, func(error) { told++ }); !errors.Is(err, ErrLocked) {
		t.Fatalf("held past the limit: %v; want ErrLocked", err)
	}
	if told != 1 {
		t.Errorf("waiting was told %d times; want once", told)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		held.Close()
	}()
	st, err := OpenWait(context.Background(), dir, Options{}, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("after the holder let go: %v", err)
	}
	st.Close()
}
