package main

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/storage"
)

// savedSnapshot is what `snapshot save` reports.
type savedSnapshot struct {
	File      string `json:"file"`
	Node      uint64 `json:"node"`
	Endpoint  string `json:"endpoint"`
	Offset    uint64 `json:"offset"`
	Term      uint64 `json:"term"`
	SizeBytes int64  `json:"sizeBytes"`
	Checksum  string `json:"checksum"`
}

// snapshotTakeWait bounds how long the node may take to write the
// snapshot asked for (the API's own bound for POST /v1/snapshots).
const snapshotTakeWait = 2 * time.Minute

func newSnapshotSaveCmd(g *globals) *cobra.Command {
	var take bool
	cmd := command("save FILE", "Save the newest snapshot of a running node to FILE, verified",
		`  yakt snapshot save backup.snap
  yakt snapshot save --endpoints http://10.0.0.2:8001 /backups/yakt-$(date +%F).snap
  yakt snapshot save --take=false latest.snap      # the node's newest existing snapshot`,
		exactArgs(1, "the file to save to"), func(cmd *cobra.Command, args []string) error {
			return failed(g.saveSnapshot(args[0], take))
		})
	cmd.Long = `Save a snapshot of a running cluster to FILE, for backup and 'yakt snapshot restore'.

The leader among --endpoints is asked (or, when no leader answers, the first endpoint that does).
First it takes a snapshot of everything it has applied (POST /v1/snapshots; --take=false skips
this and saves its newest existing one), then the file is streamed (GET /v1/snapshots/latest) to
FILE.part, showing progress when stdout is a terminal. The download is checked against the node's
X-Yakt-Snapshot-Checksum (CRC32C of the whole file) and against the file's own header and body
checksums, then fsynced and renamed to FILE. On any failure FILE is left as it was and FILE.part
is removed.`
	cmd.Flags().BoolVar(&take, "take", true, "take a fresh snapshot on the node first, so the file holds everything committed until now")
	return cmd
}

func (g *globals) saveSnapshot(file string, take bool) error {
	// The download runs until done or Ctrl-C; each step before it is
	// bounded.
	return g.withClient(false, func(ctx context.Context, c *client.Client) error { return g.save(ctx, c, file, take) })
}

func (g *globals) save(ctx context.Context, c *client.Client, file string, take bool) error {
	ep, err := g.pickLeader(ctx, c)
	if err != nil {
		return err
	}
	if take {
		tctx, tcancel := context.WithTimeout(ctx, g.timeout+snapshotTakeWait)
		_, err := c.TakeSnapshotAt(tctx, ep)
		tcancel()
		if err != nil {
			return fmt.Errorf("take a snapshot on %s: %w", ep, err)
		}
	}
	dl, err := c.LatestSnapshotAt(ctx, ep)
	if err != nil {
		return fmt.Errorf("download from %s: %w", ep, err)
	}
	defer dl.Body.Close()
	part := file + ".part"
	saved, err := g.download(dl, part)
	if err != nil {
		os.Remove(part)
		return err
	}
	// The file's own checksums, and that it is the snapshot announced.
	md, err := verifySnapshotFile(part)
	if err == nil && md.Index != dl.Offset {
		err = fmt.Errorf("the file holds offset %d, the node announced %d", md.Index, dl.Offset)
	}
	if err != nil {
		os.Remove(part)
		return &exitError{code: exitAPI, err: fmt.Errorf("verify %s: %w", part, err)}
	}
	if err := os.Rename(part, file); err != nil {
		os.Remove(part)
		return &exitError{code: exitAPI, err: err}
	}
	if err := syncDir(filepath.Dir(file)); err != nil {
		return &exitError{code: exitAPI, err: err}
	}
	saved.File, saved.Node, saved.Endpoint, saved.Offset, saved.Term = file, dl.Node, ep, md.Index, md.Term
	if g.json() {
		return g.printJSON(saved)
	}
	_, err = fmt.Fprintf(g.stdout, "Snapshot saved to %s: offset %d, term %d, %s (%d bytes), %s, from node %d.\n",
		file, saved.Offset, saved.Term, size(saved.SizeBytes), saved.SizeBytes, saved.Checksum, saved.Node)
	return err
}

// verifySnapshotFile checks a snapshot file's header, metadata and body
// checksums as a node reading it would, and returns its metadata. It
// streams the data, so a snapshot of millions of partitions needs no
// memory of its size.
func verifySnapshotFile(path string) (raftpb.SnapshotMetadata, error) {
	sr, err := storage.OpenSnapshotPath(path)
	if err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	defer sr.Close()
	// Reading to the end checks the body's checksum.
	if _, err := io.Copy(io.Discard, sr); err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	return sr.Metadata, nil
}

// pickLeader returns the endpoint of the leader, or the first endpoint
// that answers when none of them is the leader.
func (g *globals) pickLeader(ctx context.Context, c *client.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	type pong struct {
		meta client.Meta
		err  error
	}
	pongs := eachEndpoint(c, func(ep string) pong {
		m, err := c.PingAt(ctx, ep)
		return pong{m, err}
	})
	eps := c.Endpoints()
	first, firstErr := "", error(nil)
	for i, p := range pongs {
		switch {
		case p.err != nil:
			firstErr = cmpErr(firstErr, p.err)
		case p.meta.Leader != 0 && p.meta.Node == p.meta.Leader:
			return eps[i], nil
		case first == "":
			first = eps[i]
		}
	}
	if first != "" {
		return first, nil
	}
	return "", fmt.Errorf("no endpoint answered: %w", firstErr)
}

func cmpErr(cur, err error) error {
	if cur != nil {
		return cur
	}
	return err
}

// download writes dl to path, checking its length and its CRC32C against
// the node's, and fsyncs it.
func (g *globals) download(dl *client.SnapshotDownload, path string) (savedSnapshot, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return savedSnapshot{}, &exitError{code: exitAPI, err: err}
	}
	defer f.Close()
	sum := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	var w io.Writer = io.MultiWriter(f, sum)
	var bar *progressBar
	if isTerminal(g.stdout) && !g.json() {
		bar = &progressBar{w: g.stdout, total: dl.Size, start: time.Now()}
		w = io.MultiWriter(w, bar)
	}
	n, err := io.Copy(w, dl.Body)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return savedSnapshot{}, fmt.Errorf("download after %d bytes: %w", n, err)
	}
	if dl.Size >= 0 && n != dl.Size {
		return savedSnapshot{}, fmt.Errorf("download: got %d bytes, the node announced %d", n, dl.Size)
	}
	got := fmt.Sprintf("crc32c:%08x", sum.Sum32())
	if dl.Checksum == "" || !strings.EqualFold(got, dl.Checksum) {
		return savedSnapshot{}, &exitError{code: exitAPI,
			err: fmt.Errorf("checksum mismatch: the download is %s, the node announced %q", got, dl.Checksum)}
	}
	if err := f.Sync(); err != nil {
		return savedSnapshot{}, &exitError{code: exitAPI, err: fmt.Errorf("fsync %s: %w", path, err)}
	}
	if err := f.Close(); err != nil {
		return savedSnapshot{}, &exitError{code: exitAPI, err: err}
	}
	return savedSnapshot{SizeBytes: n, Checksum: got}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// progressBar draws a one-line bar on a terminal, redrawn at most ten
// times a second.
type progressBar struct {
	w     io.Writer
	total int64 // -1: unknown
	done  int64
	start time.Time
	drawn time.Time
}

func (p *progressBar) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw()
	}
	return len(b), nil
}

func (p *progressBar) draw() {
	const width = 30
	rate := float64(p.done) / max(time.Since(p.start).Seconds(), 0.001)
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s  %s/s ", size(p.done), size(int64(rate)))
		return
	}
	filled := int(float64(width) * float64(p.done) / float64(p.total))
	filled = min(filled, width)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%%  %s / %s  %s/s ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.done*100/p.total, size(p.done), size(p.total), size(int64(rate)))
}

func (p *progressBar) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}
