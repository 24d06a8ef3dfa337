//go:build !linux

package ecsemu_test

import "errors"

// helperNetns needs Linux network namespaces.
func helperNetns() error { return errors.ErrUnsupported }
