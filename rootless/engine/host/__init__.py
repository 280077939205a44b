"""What this host supports and which fallbacks rl chooses: the engine behind `rl info` and
`rl system check`.

  parse    pure parsers (mountinfo, os-release, /proc/self/cgroup, tool versions)
  probes   thin probes that try things (user namespace, overlay in one, devices, cgroup child)
  report   pure rules: raw facts -> report dict with verdicts, fixes and the problem list
  render   pure text layout of the report

`collect(paths, env)` runs every probe (the tools' `--version` run while the kernel probes do)
and returns the report dict; `rl info --format json` prints it as is.
"""

from __future__ import annotations

import os
from pathlib import Path

from rootless.paths import Paths, default_root, default_runroot


def sources(paths: Paths, env: dict[str, str]) -> tuple[str, str]:
    """Which setting gave the store root and the runroot: "--root"/"--runroot" when the path
    differs from what the environment gives, else the environment source (RL_ROOT, XDG_DATA_HOME,
    HOME; XDG_RUNTIME_DIR or fallback)."""
    root, root_source = default_root(env)
    runroot, runroot_source = default_runroot(env, os.getuid())
    return (root_source if Path(paths.root) == root else "--root",
            runroot_source if Path(paths.runroot) == runroot else "--runroot")


def collect(paths: Paths, env: dict[str, str]) -> dict:
    """Probe the host and build the `rl info` report."""
    from rootless import __version__
    from rootless.engine.host import probes, report
    from rootless.engine.pause import status as pause_status

    started = probes.start_versions(env)
    user = probes.user_facts()
    root_source, runroot_source = sources(paths, env)
    store, probe_dir = probes.store_facts(Path(paths.root))
    try:
        mapping, mapping_error = probes.choose_mapping()
        raw = {
            "version": __version__, "host": probes.host_facts(), "user": user,
            "userns": probes.userns_facts(user["Uid"], user["Gid"]),
            "mapping": None if mapping is None else {
                "Mode": mapping.mode, "UidMappings": mapping.to_oci()["uidMappings"],
                "GidMappings": mapping.to_oci()["gidMappings"], "Note": mapping.note},
            "mapping_error": mapping_error,
            "pause": pause_status(paths, mapping),
            "subids": probes.subid_facts(user["Name"], user["Uid"]),
            "newuidmap": probes.helper_facts(probes.which("newuidmap", env)),
            "newgidmap": probes.helper_facts(probes.which("newgidmap", env)),
            "store": {"Root": str(paths.root), "RootSource": root_source, **store},
            "overlay": probes.overlay_facts(mapping, probe_dir),
            "dev_fuse": probes.open_device("/dev/fuse"),
            "dev_tun": probes.open_device("/dev/net/tun"),
            "port_start": probes.read_sysctl("net.ipv4.ip_unprivileged_port_start"),
            "cgroups": probes.cgroup_facts(),
            "runtime": {"XdgRuntimeDir": env.get("XDG_RUNTIME_DIR") or None,
                        "Runroot": str(paths.runroot), "RunrootSource": runroot_source,
                        "Exists": os.path.isdir(paths.runroot)},
            "config": {"Path": str(paths.config_file), "Exists": os.path.isfile(paths.config_file)},
        }
    finally:
        if probe_dir is not None:
            probes.remove_probe_dir(probe_dir)
    raw["tools"] = probes.finish_versions(started)
    return report.assemble(raw)
