package migration

// A stand-in for the dual writer (dualwrite.go), with its entry points,
// until that file is merged; merging it deletes this file.

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/internal/metadata"
)

type appliedSource interface {
	Image() *metadata.Image
	Tail() *metadata.Tail
}

type dualWriter struct{ src appliedSource }

func newDualWriter(conn *zk.Conn, root string, src appliedSource, nodeID uint64, term uint64, log *slog.Logger) *dualWriter {
	return &dualWriter{src: src}
}

type dualWriteStats struct{ Writes, Pending, Offset int64 }

func (w *dualWriter) stats() dualWriteStats { return dualWriteStats{} }

// Run writes nothing; it returns when the log leaves DUAL_WRITE.
func (w *dualWriter) Run(ctx context.Context) (int64, error) {
	for {
		img := w.src.Image()
		if st, _ := img.Migration(); st.Phase != metadata.MigrationDualWrite {
			return img.Offset(), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
