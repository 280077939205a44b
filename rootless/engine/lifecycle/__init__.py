"""Container lifecycle operations, one module per operation (youki's layout):

  truth.py    what a record's State really is now (pids and start times checked; after a reboot or
              a SIGKILLed monitor: "exited" with the exit status marked unknown, or "unknown"
              while the container's process outlives its monitor) — never a stale "running".
  attach.py   start a container in the foreground (rl run without -d, rl start -a).
  start.py    start a container under a detached monitor (rl run -d, rl start).
  stop.py     stop (StopSignal, then SIGKILL after the timeout), restart, kill.
  remove.py   rm (-f), prune, and the removal of a container's files.
  wait.py     wait for containers to stop.
"""
