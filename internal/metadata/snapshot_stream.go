package metadata

import (
	"fmt"
	"io"
)

// WriteSnapshot writes im to w in the snapshot encoding (see snapshot.go).
func WriteSnapshot(w io.Writer, im *Image) error {
	if _, err := w.Write(EncodeSnapshot(im)); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot reads a snapshot that WriteSnapshot wrote and rebuilds the
// image. Errors are DecodeSnapshot's, or r's.
func ReadSnapshot(r io.Reader) (*Image, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return DecodeSnapshot(b)
}
