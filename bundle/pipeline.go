package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
)

// chunkSize is how much of a file one batch of lines holds.
const chunkSize = 256 << 10

// eachLine calls fn with every line of r (without its newline) and its
// number, from 1. Reading (decompression, and hashing everything read into h
// when h is set) runs on its own goroutine, one chunk of lines ahead, so it
// overlaps with fn. A line passed to fn stays valid until fn returns for the
// line after it. Every line, the last one included, must end with a newline.
func eachLine(r io.Reader, h hash.Hash, fn func(line []byte, n int64) error) error {
	chunks := make(chan []byte, 2)
	free := make(chan []byte, 4)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() { readErr <- readChunks(r, h, chunks, free, stop) }()
	err := consume(chunks, free, fn)
	close(stop)
	for range chunks { // let the reader finish
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	return err
}

// consume runs fn over the lines of each chunk, recycling a chunk only once
// the next one is done, so the previous line always stays valid.
func consume(chunks <-chan []byte, free chan<- []byte, fn func([]byte, int64) error) error {
	var n int64
	var prev []byte
	for whole := range chunks {
		chunk := whole
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			n++
			if i < 0 {
				return fmt.Errorf("line %d does not end with a newline", n)
			}
			if err := fn(chunk[:i], n); err != nil {
				return err
			}
			chunk = chunk[i+1:]
		}
		if prev != nil {
			select {
			case free <- prev[:0]:
			default:
			}
		}
		prev = whole
	}
	return nil
}

// readChunks reads r into chunks that end at a line boundary (the last one
// may not) and sends them on out, which it closes when done.
func readChunks(r io.Reader, h hash.Hash, out chan<- []byte, free <-chan []byte, stop <-chan struct{}) error {
	defer close(out)
	var carry []byte
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, 0, chunkSize)
		}
		buf = append(buf[:0], carry...)
		eof := false
		for !eof {
			if len(buf) == cap(buf) {
				if bytes.IndexByte(buf, '\n') >= 0 {
					break
				}
				if len(buf) > maxLine {
					return fmt.Errorf("a line is longer than %d bytes", maxLine)
				}
				buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
			}
			k, err := r.Read(buf[len(buf):cap(buf)])
			if h != nil && k > 0 {
				h.Write(buf[len(buf) : len(buf)+k])
			}
			buf = buf[:len(buf)+k]
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				return err
			}
			if len(buf) > cap(buf)/2 && bytes.IndexByte(buf[len(buf)-k:], '\n') >= 0 {
				break
			}
		}
		cut := len(buf)
		if !eof {
			cut = bytes.LastIndexByte(buf, '\n') + 1
		}
		carry = append(carry[:0], buf[cut:]...)
		if cut > 0 {
			select {
			case out <- buf[:cut]:
			case <-stop:
				return nil
			}
		}
		if eof {
			return nil
		}
	}
}
