package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
)

// tailLast is how many offsets before the end `log tail` starts at
// without --from.
const tailLast = 10

func newLogTailCmd(g *globals) *cobra.Command {
	var (
		from     int64
		limit    int
		noFollow bool
		interval time.Duration
	)
	cmd := command("tail", "Print the metadata log's records and follow new ones until interrupted",
		`  yakt log tail                          # the last 10 offsets, then follow
  yakt log tail --from 1 --no-follow     # everything the nodes still hold, then stop
  yakt log tail --from 120 --limit 5 -o json | jq .name`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if limit < 0 || interval <= 0 {
				return usageError(errors.New("--limit must be 0 (no limit) or more and --interval positive"))
			}
			fromGiven := cmd.Flags().Changed("from")
			if fromGiven && from < 1 {
				return usageError(errors.New("--from must be 1 or more"))
			}
			return failed(g.withClient(false, func(ctx context.Context, c *client.Client) error {
				err := g.tail(ctx, c, from, fromGiven, limit, !noFollow, interval)
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					return nil // interrupted: the normal end of following
				}
				return err
			}))
		})
	cmd.Long = `Print the metadata log's records (GET /v1/log) from --from on, and, unless --no-follow, keep
following new ones until interrupted (Ctrl-C ends it with exit status 0). Without --from it starts
at the last 10 offsets. The table form is one record a line (offset, timestamp, record name and its
fields); -o json prints each record's JSON envelope on a line of its own (JSON Lines).

Nodes hold the log after their newest snapshot (and the last 100,000 records in memory); an older
--from is OFFSET_COMPACTED (exit status 1). The offline 'yakt log dump' reads a data directory.`
	cmd.Flags().Int64Var(&from, "from", 0, "the first offset to print (default: the last 10 offsets)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many records (0: no limit)")
	cmd.Flags().BoolVar(&noFollow, "no-follow", false, "stop at the end of the log instead of following it")
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often to ask for new records once at the end")
	return cmd
}

func (g *globals) tail(ctx context.Context, c *client.Client, from int64, fromGiven bool, limit int, follow bool, interval time.Duration) error {
	call := func(fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, g.timeout)
		defer cancel()
		return fn(cctx)
	}
	if !fromGiven {
		var q client.Quorum
		if err := call(func(ctx context.Context) (err error) { q, err = c.Quorum(ctx); return err }); err != nil {
			return err
		}
		from = max(1, q.HighWatermark-tailLast+1)
	}
	printed := 0
	for {
		page := limit - printed
		if limit == 0 || page > 1000 {
			page = 1000
		}
		var p client.LogPage
		err := call(func(ctx context.Context) (err error) { p, err = c.Log(ctx, from, page); return err })
		if !fromGiven && errors.Is(err, client.ErrOffsetCompacted) {
			// The last offsets are in a snapshot only: start after it.
			fromGiven = true
			var q client.Quorum
			if err := call(func(ctx context.Context) (err error) { q, err = c.Quorum(ctx); return err }); err != nil {
				return err
			}
			from = q.HighWatermark + 1
			continue
		}
		if err != nil {
			return err
		}
		for _, r := range p.Records {
			if err := g.printRecord(r); err != nil {
				return err
			}
			printed++
			if limit > 0 && printed >= limit {
				return nil
			}
		}
		if p.NextOffset > from {
			from = p.NextOffset
		}
		if len(p.Records) > 0 {
			continue
		}
		if !follow {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (g *globals) printRecord(r client.Record) error {
	if g.json() {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(g.stdout, "%s\n", b)
		return err
	}
	fields, err := json.Marshal(r.Body)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%d\t%s\t%s\t%s\n", r.Offset, r.Timestamp.UTC().Format(recordTimeLayout), recordName(r), fields)
	return err
}

// recordTimeLayout is the API's timestamp form (docs/api.md).
const recordTimeLayout = "2006-01-02T15:04:05.000Z"

// recordName is a record's name in docs/api.md ("TopicRecord", ...).
func recordName(r client.Record) string {
	if r.Body == nil {
		return "UnknownRecord"
	}
	return r.Body.RecordName()
}
