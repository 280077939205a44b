"""The network of one container run: the calls the container lifecycle makes, in this order.

    plan = stack.plan(record)                   # HostConfig.NetworkMode/PortBindings/PublishAllPorts
    listeners = stack.bind(plan)                # before anything starts: port in use, port < 1024
    st = runtime.create(...)                    # the container's namespaces exist, nothing exec'd
    running = stack.start(paths, cid, st.pid, plan, listeners)   # slirp4netns/pasta + forwarder
    record["NetworkSettings"] = running.network_settings()
    runtime.start(...)
    ... the container runs ...
    running.stop()                              # when its first process has exited

Modes (HostConfig.NetworkMode): "bridge" (docker's name for the default), "slirp4netns" and
"default" -> slirp4netns (pasta when slirp4netns is absent); "pasta"; "host" (no namespace:
published ports are discarded, as docker does, with its warning); "none" (loopback only);
"container:<id>" (the namespace of another container: nothing to start). Both user-mode stacks
give the container 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3 (`slirp.resolv_conf()`,
`slirp.hosts()` write the matching files). Everything started here dies with the caller
(PR_SET_PDEATHSIG) and with the container (the forwarder's pidfd; slirp4netns' exit fd).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rootless.engine.net import forwarder, listeners, pasta, ports, slirp
from rootless.engine.net.listeners import Listener
from rootless.engine.net.ports import Bound, PortMapping
from rootless.errors import UsageError

USER_MODE = ("bridge", "default", "slirp4netns", "pasta")
HOST_WARNING = "WARNING: Published ports are discarded when using host network mode"


@dataclass(frozen=True)
class Plan:
    mode: str                               # "slirp4netns" | "pasta" | "host" | "none" | "container"
    mappings: tuple[PortMapping, ...] = ()
    exposed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def stack_for(network_mode: str) -> str:
    """The mode a HostConfig.NetworkMode means here (the default stack resolved)."""
    mode = network_mode or "bridge"
    if mode.startswith("container:"):
        return "container"
    if mode in ("host", "none", "pasta"):
        return mode
    if mode == "private":  # rl's name for a namespace with loopback only
        return "none"
    if mode in USER_MODE:
        return "slirp4netns" if slirp.find() or not pasta.find() else "pasta"
    raise UsageError(f"network {mode} not found", "use bridge, host, none, pasta, slirp4netns or container:NAME")


def plan(record: dict) -> Plan:
    """What to set up for a container record (pure but for which stack binaries exist)."""
    host_config = record.get("HostConfig", {})
    mode = stack_for(host_config.get("NetworkMode", "bridge"))
    mappings = ports.mappings_from_bindings(host_config.get("PortBindings") or {})
    exposed = tuple((record.get("Config", {}).get("ExposedPorts") or {}).keys())
    if host_config.get("PublishAllPorts"):
        mappings = ports.publish_all(exposed, mappings)
    exposed = tuple(ports.exposed_ports(exposed, mappings))
    if mappings and mode == "host":
        return Plan(mode, (), exposed, (HOST_WARNING,))
    if mappings and mode in ("none", "container"):
        raise UsageError("conflicting options: port publishing and the container type network mode")
    return Plan(mode, tuple(mappings), exposed)


def bind(p: Plan) -> list[Listener]:
    """Bind the published ports on the host (PublishError: nothing is left bound)."""
    return listeners.bind_published(p.mappings)


@dataclass
class Running:
    """What runs for a container's network; `stop()` ends it all."""

    plan: Plan
    pid: int
    stack: slirp.Slirp | pasta.Pasta | None = None
    forwarder: forwarder.ForwarderProcess | None = None
    bound: list[Bound] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The helper processes (slirp4netns or pasta, the forwarder) while they run."""
        return [h.pid for h in (self.stack, self.forwarder) if h is not None]

    def stop(self) -> None:
        if self.forwarder is not None:
            self.forwarder.stop()
            self.forwarder = None
        if self.stack is not None:
            self.stack.stop()
            self.stack = None

    def network_settings(self) -> dict:
        """docker's NetworkSettings for `rl inspect` (Ports drives `rl ps` and `rl port`)."""
        user_mode = self.plan.mode in ("slirp4netns", "pasta")
        address = slirp.ADDRESS if user_mode else ""
        gateway = slirp.GATEWAY if user_mode else ""
        name = {"slirp4netns": "bridge", "pasta": "pasta"}.get(self.plan.mode, self.plan.mode)
        return {
            "Bridge": "", "SandboxID": "", "HairpinMode": False,
            "SandboxKey": f"/proc/{self.pid}/ns/net" if self.plan.mode != "host" else "",
            "Ports": ports.network_ports(self.plan.exposed, self.bound) if self.plan.mode != "host" else {},
            "Gateway": gateway, "IPAddress": address, "IPPrefixLen": 24 if user_mode else 0,
            "MacAddress": "",
            "Networks": {} if self.plan.mode == "container" else {name: {"NetworkID": "", "EndpointID": "", "Gateway": gateway,
                                "IPAddress": address, "IPPrefixLen": 24 if user_mode else 0,
                                "MacAddress": "", "Aliases": None}},
        }


def start(api_socket: Path | None, pid: int, p: Plan, bound: list[Listener]) -> Running:
    """Start the user-mode stack and the forwarder for the container whose first process is `pid`
    (created, not yet started). Closes `bound` (the forwarder holds them). On failure everything
    started is stopped and the error (NetworkSetupError) raised."""
    running = Running(p, pid, bound=[b.bound for b in bound])
    try:
        if p.mode == "slirp4netns":
            if api_socket is not None:
                api_socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            running.stack = slirp.start(pid, api_socket=api_socket)
        elif p.mode == "pasta":
            running.stack = pasta.start(pid)
        if bound:
            running.forwarder = forwarder.spawn(pid, bound)
    except BaseException:
        running.stop()
        raise
    finally:
        for listener in bound:
            listener.close()
    return running
