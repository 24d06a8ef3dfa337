package hook

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Frame is one message of libzypp's plugin protocol, modelled on STOMP:
//
//	COMMAND\n
//	key:value\n   (zero or more headers)
//	\n
//	body\0
type Frame struct {
	Command string
	Headers map[string]string
	Body    []byte
}

// Frame limits: libzypp's frames are small except COMMITBEGIN's body, the
// JSON list of every package in the commit.
const (
	maxFrameLine    = 64 << 10
	maxFrameHeaders = 256
	maxFrameBody    = 32 << 20
)

// ReadFrame reads one frame. Newlines between frames (STOMP heartbeats)
// are skipped; io.EOF means the stream ended cleanly between frames.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	var command string
	for command == "" {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return Frame{}, io.EOF
			}
			return Frame{}, frameEOF(err)
		}
		command = line
	}
	f := Frame{Command: command}
	for {
		line, err := readLine(r)
		if err != nil {
			return Frame{}, frameEOF(err)
		}
		if line == "" {
			break
		}
		if len(f.Headers) == maxFrameHeaders {
			return Frame{}, fmt.Errorf("frame %s: more than %d headers", command, maxFrameHeaders)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return Frame{}, fmt.Errorf("frame %s: header line %q has no colon", command, cutRunes(line, 40))
		}
		if f.Headers == nil {
			f.Headers = map[string]string{}
		}
		f.Headers[key] = value
	}
	body, err := readUntil(r, 0, maxFrameBody)
	if err != nil {
		return Frame{}, fmt.Errorf("frame %s body: %w", command, frameEOF(err))
	}
	f.Body = body
	return f, nil
}

// WriteFrame writes f in one Write.
func WriteFrame(w io.Writer, f Frame) error {
	var b bytes.Buffer
	b.WriteString(f.Command + "\n")
	keys := make([]string, 0, len(f.Headers))
	for k := range f.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + ":" + f.Headers[k] + "\n")
	}
	b.WriteString("\n")
	b.Write(f.Body)
	b.WriteByte(0)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write %s frame: %w", f.Command, err)
	}
	return nil
}

// readLine reads one line without its "\n" (or "\r\n").
func readLine(r *bufio.Reader) (string, error) {
	line, err := readUntil(r, '\n', maxFrameLine)
	return strings.TrimSuffix(string(line), "\r"), err
}

// readUntil reads up to and without delim, at most max bytes.
func readUntil(r *bufio.Reader, delim byte, max int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := r.ReadSlice(delim)
		if len(out)+len(chunk) > max+1 {
			return nil, fmt.Errorf("longer than %d bytes", max)
		}
		out = append(out, chunk...)
		switch {
		case err == nil:
			return out[:len(out)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return out, err
		}
	}
}

// frameEOF turns an end of input inside a frame into io.ErrUnexpectedEOF.
func frameEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
