"""Command implementations: parse what typer cannot, call one engine function, format the output.
No logic of their own (STYLE.md: thin handlers)."""
