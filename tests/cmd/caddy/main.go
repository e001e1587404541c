// Command caddy is Caddy with the standard modules and Tracebar, the same
// program xcaddy.sh builds, for tests that need a binary without xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/tracebar/tracebar"
)

func main() {
	caddycmd.Main()
}
