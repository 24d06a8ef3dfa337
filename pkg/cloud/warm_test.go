package cloud

import "testing"

// The warm-up goes through the SDK's own decoding of an answer: should
// the SDK change how it decodes, this says so instead of warming nothing.
func TestWarmDecodesThroughTheSDK(t *testing.T) {
	if err := warmDecoders(); err != nil {
		t.Fatal(err)
	}
}
