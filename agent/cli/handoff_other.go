//go:build !unix

package cli

import "errors"

// startFinisher needs a Unix session to detach into.
func (a *app) startFinisher() error { return errors.ErrUnsupported }
