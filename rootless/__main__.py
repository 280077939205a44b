"""`python -m rootless` is the same as `rl`."""
from rootless.cli.main import main

raise SystemExit(main())
