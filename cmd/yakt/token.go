package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/internal/auth"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := newGroup("token", "Create bearer tokens for the access file")
	cmd.Example = "  yakt token create --principal reporting --role reader"
	cmd.AddCommand(newTokenCreateCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var principal, roles string
	cmd := command("create", "Make a new random token and the access file line that admits it",
		`  yakt token create --principal alice --role admin
  yakt token create --principal broker-1 --role broker:1 | tail -n 1 >> /etc/yakt/access`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			line, token, err := newAccessLine(principal, roles)
			if err != nil {
				return err
			}
			// stdout: the token first (for the client, shown only now),
			// then the line for the access file, which holds only its hash.
			if _, err := fmt.Fprintf(g.stdout, "%s\n%s\n", token, line); err != nil {
				return &exitError{code: exitAPI, err: fmt.Errorf("write output: %w", err)}
			}
			fmt.Fprintf(g.stderr, "The first line is the token: give it to %s (--token or YAKT_TOKEN); it is not stored anywhere.\n"+
				"The second line goes into every node's access file (--access-file); the nodes reload it on their own.\n"+
				"To add the token to an existing line of %s, append its sha256: field there.\n", principal, principal)
			return nil
		})
	cmd.Long = `Make a new random token (256 bits) and print it on the first line, and on the second the
access file line that binds it to --principal with --role: "<principal> <role> sha256:<hash>".
The access file holds only the token's hash; the token itself is shown once, here. This command
works offline: it does not talk to the cluster.`
	cmd.Flags().StringVar(&principal, "principal", "", "who the token authenticates as (a name of the access file; not node:...)")
	cmd.Flags().StringVar(&roles, "role", string(auth.RoleReader), "the principal's roles, comma-separated: admin, reader, broker:<id>")
	return cmd
}

// newAccessLine makes a token and the access file line for it, checked
// by the access file's own parser so that the line is one the nodes take.
func newAccessLine(principal, roles string) (line, token string, err error) {
	if principal == "" {
		return "", "", usageError(errors.New("--principal is required"))
	}
	if strings.ContainsAny(principal, " \t\n#") || strings.ContainsAny(roles, " \t\n#") {
		return "", "", usageError(errors.New("--principal and --role may not hold spaces or '#'"))
	}
	if token, err = auth.NewToken(); err != nil {
		return "", "", &exitError{code: exitAPI, err: fmt.Errorf("make a token: %w", err)}
	}
	line = fmt.Sprintf("%s %s %s", principal, roles, auth.HashToken(token))
	if _, err := auth.ParseAccess([]byte(line + "\n")); err != nil {
		return "", "", usageError(err)
	}
	return line, token, nil
}
