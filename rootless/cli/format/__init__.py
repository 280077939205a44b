"""Docker's `--format` machinery: a Go text/template engine (`gotemplate`) and docker's `table`
directive with its tabwriter alignment (`table`). Commands import these lazily, inside the function
that formats output."""
