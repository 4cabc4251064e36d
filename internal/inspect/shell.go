package inspect

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrCommandFailed is wrapped by Shell's error when a command failed
// (each failure was printed as it happened and the shell went on), so a
// script can exit non-zero.
var ErrCommandFailed = errors.New("shell: a command failed")

// ShellOption tunes Shell.
type ShellOption func(*shellConfig)

type shellConfig struct{ prompt string }

// WithPrompt prints prompt before reading each command (for a terminal;
// a pipe needs none).
func WithPrompt(prompt string) ShellOption { return func(c *shellConfig) { c.prompt = prompt } }

const shellHelp = `Commands (paths are absolute, or relative to the current directory; . and .. work):
  ls [path]            list a directory (entries ending in / are directories)
  cd [path]            change directory (no path: /)
  cat path...          print files as JSON
  find [path] [glob]   print every path under path (default .) whose name matches glob (default *)
  pwd                  print the current directory
  help                 this text
  exit                 leave (so does the end of the input)
Tree: /cluster, /brokers/<id>, /topics/<name>/topic, /topics/<name>/partitions/<n>, /producerIds
`

// Shell runs the commands read from in, one a line, over the tree at
// root, writing their output and their errors to out, until exit or the
// end of in. Blank lines and lines starting with # are skipped. It
// returns in's or out's error, or one wrapping ErrCommandFailed when a
// command failed.
func Shell(in io.Reader, out io.Writer, root *Node, opts ...ShellOption) error {
	var cfg shellConfig
	for _, o := range opts {
		o(&cfg)
	}
	sh := &shell{root: root, out: bufio.NewWriter(out)}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	failed := 0
	for {
		if cfg.prompt != "" {
			sh.out.WriteString(cfg.prompt)
		}
		if err := sh.out.Flush(); err != nil {
			return fmt.Errorf("shell: write: %w", err)
		}
		if !sc.Scan() {
			break
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		args := strings.Fields(line)
		if args[0] == "exit" || args[0] == "quit" {
			break
		}
		if err := sh.run(args); err != nil {
			failed++
			fmt.Fprintf(sh.out, "%s: %v\n", args[0], err)
		}
	}
	if cfg.prompt != "" {
		sh.out.WriteString("\n")
	}
	if err := sh.out.Flush(); err != nil {
		return fmt.Errorf("shell: write: %w", err)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("shell: read: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%w (%d failed)", ErrCommandFailed, failed)
	}
	return nil
}

type shell struct {
	root *Node
	cwd  string // absolute, cleaned
	out  *bufio.Writer
}

func (sh *shell) run(args []string) error {
	cmd, args := args[0], args[1:]
	switch cmd {
	case "help":
		sh.out.WriteString(shellHelp)
	case "pwd":
		fmt.Fprintln(sh.out, sh.dir())
	case "cd":
		p := "/"
		if len(args) > 1 {
			return errors.New("too many arguments")
		}
		if len(args) == 1 {
			p = args[0]
		}
		abs, n, err := sh.resolve(p)
		if err != nil {
			return err
		}
		if !n.IsDir() {
			return fmt.Errorf("%s: not a directory", p)
		}
		sh.cwd = abs
	case "ls":
		if len(args) == 0 {
			args = []string{"."}
		}
		for i, p := range args {
			_, n, err := sh.resolve(p)
			if err != nil {
				return err
			}
			if len(args) > 1 {
				if i > 0 {
					sh.out.WriteString("\n")
				}
				fmt.Fprintf(sh.out, "%s:\n", p)
			}
			if !n.IsDir() {
				fmt.Fprintln(sh.out, n.Name)
				continue
			}
			for _, c := range n.Children {
				if c.IsDir() {
					fmt.Fprintf(sh.out, "%s/\n", c.Name)
				} else {
					fmt.Fprintln(sh.out, c.Name)
				}
			}
		}
	case "cat":
		if len(args) == 0 {
			return errors.New("which file? (cat path)")
		}
		for _, p := range args {
			_, n, err := sh.resolve(p)
			if err != nil {
				return err
			}
			if n.IsDir() {
				return fmt.Errorf("%s: is a directory", p)
			}
			b, err := json.MarshalIndent(n.Value, "", "  ")
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			sh.out.Write(b)
			sh.out.WriteString("\n")
		}
	case "find":
		if len(args) > 2 {
			return errors.New("too many arguments (find [path] [glob])")
		}
		start, glob := ".", "*"
		if len(args) > 0 {
			start = args[0]
		}
		if len(args) > 1 {
			glob = args[1]
		}
		if _, err := path.Match(glob, ""); err != nil {
			return fmt.Errorf("glob %q: %w", glob, err)
		}
		abs, n, err := sh.resolve(start)
		if err != nil {
			return err
		}
		sh.find(abs, n, glob)
	default:
		return errors.New("unknown command (try help)")
	}
	return nil
}

// find prints p and every path under it whose last element matches glob.
func (sh *shell) find(p string, n *Node, glob string) {
	if ok, _ := path.Match(glob, n.Name); ok || (p == "/" && glob == "*") {
		fmt.Fprintln(sh.out, p)
	}
	for _, c := range n.Children {
		sh.find(path.Join(p, c.Name), c, glob)
	}
}

func (sh *shell) dir() string {
	if sh.cwd == "" {
		return "/"
	}
	return sh.cwd
}

// resolve finds the node p names and its absolute path.
func (sh *shell) resolve(p string) (string, *Node, error) {
	abs := p
	if !strings.HasPrefix(p, "/") {
		abs = path.Join(sh.dir(), p)
	}
	abs = path.Clean("/" + abs)
	n := sh.root
	if abs == "/" {
		return abs, n, nil
	}
	for _, name := range strings.Split(abs[1:], "/") {
		if !n.IsDir() {
			return "", nil, fmt.Errorf("%s: not a directory", p)
		}
		c, ok := n.Child(name)
		if !ok {
			return "", nil, fmt.Errorf("%s: no such file or directory", p)
		}
		n = c
	}
	return abs, n, nil
}
