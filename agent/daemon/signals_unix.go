package daemon

import (
	"os"
	"os/signal"
	"syscall"
)

// reloadSignal delivers SIGHUP, the conventional "reload the configuration".
func reloadSignal() chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch
}

func stopReloadSignal(ch chan os.Signal) { signal.Stop(ch) }
