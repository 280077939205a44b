"""rl: a rootless, daemonless container engine and OCI runtime."""

__version__ = "0.1.0"
