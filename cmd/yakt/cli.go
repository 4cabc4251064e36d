package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/client"
)

// Exit statuses, the same for every command (docs/operations.md, "CLI").
const (
	exitOK          = 0
	exitAPI         = 1 // the cluster answered with an error (or a local step failed)
	exitUsage       = 2 // the command line is wrong
	exitUnavailable = 3 // no endpoint answered, no leader, or the command timed out
)

const exitCodesHelp = `Exit status:
  0  success
  1  the cluster refused or failed the request (an API error such as TOPIC_NOT_FOUND,
     UNAUTHENTICATED or FORBIDDEN), or a local step failed (writing a file, a checksum mismatch)
  2  usage error: unknown command or flag, bad flag value, wrong arguments
  3  the cluster could not be reached or could not answer: no endpoint reachable, no leader
     (NO_LEADER, NOT_READY), or --timeout passed; a write's outcome may then be unknown`

// defaultEndpoints are the HTTP addresses `yakt dev` listens on.
var defaultEndpoints = []string{"http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"}

// exitError ends a command with an exit status. err, when set, is
// printed by run; nil means the command has already said why.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// exitStatus turns the status of a command that reports its own errors
// (server, dev, bench) into the error cobra returns.
func exitStatus(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// failed classifies an error of an online command into its exit status.
func failed(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		// The node answered with a certificate this client does not
		// trust: a setting to fix, not a cluster to wait for.
		return &exitError{code: exitAPI, err: fmt.Errorf("%w\n(--cacert must name the CA that signed the nodes' certificates, and each endpoint's host must be in its node's certificate)", err)}
	}
	if unavailable(err) {
		if errors.Is(err, client.ErrUnknownOutcome) {
			err = fmt.Errorf("%w\n(the write may or may not have been applied: check before repeating it)", err)
		}
		return &exitError{code: exitUnavailable, err: err}
	}
	if errors.Is(err, client.ErrUnauthenticated) {
		err = fmt.Errorf("%w\n(give a credential: --cert and --key, or --token; see docs/security.md)", err)
	}
	return &exitError{code: exitAPI, err: err}
}

// unavailable reports whether err means the cluster could not answer, as
// opposed to answering no.
func unavailable(err error) bool {
	if apiErr, ok := errors.AsType[*client.Error](err); ok {
		switch apiErr.Code {
		case client.ErrNoLeader.Code, client.ErrNotReady.Code, client.ErrTimeout.Code, "OVERLOADED", client.ErrTooManyFullFetches.Code,
			client.ErrTooManyLongPolls.Code, client.ErrConnectionLimit.Code:
			return true
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, client.ErrUnknownOutcome) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF)
}

// globals are the flags of every operating command.
type globals struct {
	stdout, stderr io.Writer
	endpoints      []string
	output         string
	timeout        time.Duration
	// The client's credentials (docs/security.md).
	cacert, cert, key, token string
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&g.endpoints, "endpoints", defaultEndpoints, "the nodes' HTTP base URLs, comma-separated (any node answers; the default is what 'yakt dev' starts; https://host:port with TLS)")
	fs.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "give up on the cluster after this long (exit status 3)")
	fs.StringVar(&g.cacert, "cacert", "", "PEM file of the CA that signed the nodes' certificates (default: the system's roots)")
	fs.StringVar(&g.cert, "cert", "", "PEM file of this client's certificate (with --key): the client is its subject CN")
	fs.StringVar(&g.key, "key", "", "PEM file of --cert's private key")
	fs.StringVar(&g.token, "token", "", "bearer token sent with every request; @FILE reads it from FILE (safer than the command line)")
}

// check validates the global flags.
func (g *globals) check() error {
	if g.output != "table" && g.output != "json" {
		return usageError(fmt.Errorf("--output %q: want table or json", g.output))
	}
	if g.timeout <= 0 {
		return usageError(errors.New("--timeout must be positive"))
	}
	var eps []string
	for _, e := range g.endpoints {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return usageError(errors.New("--endpoints is empty"))
	}
	g.endpoints = eps
	return nil
}

func (g *globals) json() bool { return g.output == "json" }

// client makes a client of the endpoints; each attempt is bounded by
// --timeout, as the whole command is (see context).
func (g *globals) client() (*client.Client, error) {
	cfg := client.Config{Endpoints: g.endpoints, RequestTimeout: g.timeout}
	if g.cacert != "" || g.cert != "" || g.key != "" {
		tlsCfg, err := client.TLSFromFiles(g.cacert, g.cert, g.key)
		if err != nil {
			return nil, usageError(fmt.Errorf("--cacert, --cert, --key: %w", err))
		}
		cfg.TLS = tlsCfg
	}
	token, err := readToken(g.token)
	if err != nil {
		return nil, usageError(err)
	}
	cfg.Token = token
	c, err := client.New(cfg)
	if err != nil {
		return nil, usageError(err)
	}
	return c, nil
}

// readToken is --token's value: the token, or with @FILE the file's
// content without surrounding white space (a token on the command line
// is visible to every user of the machine in the process list).
func readToken(v string) (string, error) {
	path, ok := strings.CutPrefix(v, "@")
	if !ok {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token: %s is empty", path)
	}
	return token, nil
}

// context is a command's context: it ends on Ctrl-C or SIGTERM, and,
// when bounded, after --timeout.
func (g *globals) context(bounded bool) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if !bounded {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	return ctx, func() { cancel(); stop() }
}

// withClient runs fn with a client of --endpoints and a context that
// ends on Ctrl-C and, when bounded, after --timeout.
func (g *globals) withClient(bounded bool, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := g.context(bounded)
	defer cancel()
	return fn(ctx, c)
}

// call runs fn with a client and a context bounded by --timeout, and
// classifies its error.
func (g *globals) call(fn func(ctx context.Context, c *client.Client) error) error {
	return failed(g.withClient(true, fn))
}

// report prints v as JSON, or rows under header as a table, and then
// returns status: what the rows said of the command's outcome.
func (g *globals) report(v any, header []string, rows [][]string, status error) error {
	var err error
	if g.json() {
		err = g.printJSON(v)
	} else {
		err = g.table(header, rows)
	}
	if err != nil {
		return err
	}
	return status
}

// printJSON prints v indented.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return &exitError{code: exitAPI, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// table writes rows under a header, columns aligned as kubectl and
// etcdctl print them.
func (g *globals) table(header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // into a buffer: cannot fail
	// An empty last column (no ERRORS) would leave padding at the ends.
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
	}
	if _, err := io.WriteString(g.stdout, out.String()); err != nil {
		return &exitError{code: exitAPI, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// command fills the fields every operating command shares.
func command(use, short, example string, args cobra.PositionalArgs, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Example: example, Args: args, RunE: run}
}

// exactArgs is cobra.ExactArgs with the argument's name in the message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("want %s, got %d arguments", what, len(args))
		}
		return nil
	}
}
