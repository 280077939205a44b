"""Typer declarations of the commands, one module per noun. Signatures and help only: each
command is `@implemented_by` a function in `rootless.cli.commands`."""
