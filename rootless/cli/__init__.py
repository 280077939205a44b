"""The command line: typer declarations (`declare/`), their implementations (`commands/`), the entry
point and error catch site (`main`), and the start-up fast path."""
