//go:build !linux

package consistency

import (
	"context"
	"errors"
	"io"
)

func run(ctx context.Context, opts *Options, stdout, stderr io.Writer) (*Report, error) {
	return nil, errors.ErrUnsupported
}
