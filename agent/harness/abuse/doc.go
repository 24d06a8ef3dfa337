// Package abuse is an on-demand trial of the local API against bad input:
// the built daemon (bin/ecssnap) and emulator (bin/ecssnap-emu) are
// started, the socket is sent dozens of kinds of malformed request and
// thousands of half-open connections, and the daemon must answer each bad
// request with a 4xx envelope in bounded time, keep answering health, and
// come back to its resting fd count and memory. It runs only when
// ECSSNAP_ABUSE_BIN names the directory of the built binaries (make abuse),
// so the normal suite stays fast; it is a test, not a shipped program.
package abuse
