"""Run a bundle in the foreground with the runtime, as a separate process (for pty tests and the
latency measurement): `python driver.py BUNDLE STATE_DIR ID [--tty]`. Exits with the container's
status, 125/126/127 with the error on stderr as rl does."""

import sys


def main() -> int:
    from rootless.errors import RlError
    from rootless.runtime.run import run

    bundle, state_dir, cid = sys.argv[1:4]
    try:
        return run(bundle, state_dir, cid, tty="--tty" in sys.argv)
    except RlError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        return getattr(e, "exit_code", 125) if e.exit_code in (126, 127) else 125


if __name__ == "__main__":
    sys.stdout.flush()
    import os

    os._exit(main())
