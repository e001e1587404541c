// Package tracebar is a debug toolbar for any web app, as Caddy modules.
// Importing it registers them; build Caddy with
//
//	xcaddy build --with github.com/tracebar/tracebar
package tracebar

import _ "github.com/tracebar/tracebar/caddymodule" // registers the modules
