"""`rl info`, `rl system check` (placeholder until the host probe lands)."""
from rootless.errors import RlError

def info(ctx, format=None):
    raise RlError("not implemented yet")

def check(ctx):
    raise RlError("not implemented yet")
