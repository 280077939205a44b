"""The network of one container run: the calls the container lifecycle makes, in this order.

    plan = stack.plan(record, paths)            # HostConfig.NetworkMode/PortBindings/PublishAllPorts
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
"container:<id>" (the namespace of another container: nothing to start); any other name is a
user-defined network, mode "usernet" (endpoints.py: a veth to its bridge in the holder's namespace,
whose slirp4netns is the way out; more user networks may come from `rl network connect`, on top of
any mode with a namespace of its own; they need `paths` in plan()). Both user-mode stacks
give the container 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3 (`slirp.resolv_conf()`,
`slirp.hosts()` write the matching files). Everything started here dies with the caller
(PR_SET_PDEATHSIG) and with the container (the forwarder's pidfd; slirp4netns' exit fd).
"""

from __future__ import annotations

from rootless.plainclass import dataclass, field

from rootless.engine.net import ports
from rootless.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the helpers' modules load only when a stack or a port needs them (start-up)
    from pathlib import Path

    from rootless.engine.net import forwarder, pasta, slirp
    from rootless.engine.net.listeners import Listener
    from rootless.engine.net.ports import Bound, PortMapping

USER_MODE = ("bridge", "default", "slirp4netns", "pasta")
HOST_WARNING = "WARNING: Published ports are discarded when using host network mode"


@dataclass(frozen=True)
class Plan:
    mode: str                               # "slirp4netns" | "pasta" | "host" | "none" | "container"
    mappings: tuple[PortMapping, ...] = ()
    exposed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # user networks (endpoints.py): the store's paths, the container, [(network, aliases)]
    paths: object = field(default=None, compare=False)
    cid: str = ""
    name: str = ""
    networks: tuple = ()


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
        from rootless.engine.net import pasta, slirp

        return "slirp4netns" if slirp.find() or not pasta.find() else "pasta"
    if _user_network(mode):
        return "usernet"  # a user-defined network (rl network create): endpoints.py
    raise UsageError(f"network {mode} not found", "use bridge, host, none, pasta, slirp4netns or container:NAME")


def _user_network(mode: str) -> bool:
    import re

    return bool(re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", mode)) and mode not in ("default", "private")


def plan(record: dict, paths=None) -> Plan:
    """What to set up for a container record (pure but for which stack binaries exist). With
    `paths`, the user networks it is attached to are resolved (NetworkNotFound when one is gone)."""
    if paths is not None and (stack_for((record.get("HostConfig") or {}).get("NetworkMode") or "") == "usernet"
                              or (record.get("Rl") or {}).get("Endpoints")):
        from rootless.engine.net import endpoints

        p = plan(record)
        return Plan(p.mode, p.mappings, p.exposed, p.warnings, paths=paths, cid=record.get("Id", ""),
                    name=(record.get("Name") or "").lstrip("/"), networks=tuple(endpoints.resolve(paths, record)))
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
    if not p.mappings:
        return []
    from rootless.engine.net import listeners

    return listeners.bind_published(p.mappings)


@dataclass
class Running:
    """What runs for a container's network; `stop()` ends it all."""

    plan: Plan
    pid: int
    stack: slirp.Slirp | pasta.Pasta | None = None
    forwarder: forwarder.ForwarderProcess | None = None
    bound: list[Bound] = field(default_factory=list)
    attached: list = field(default_factory=list)  # [(network, endpoint)] on user networks

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
        if self.attached:
            from rootless.engine.net import endpoints

            endpoints.release_all(self.plan.paths, self.plan.cid, [n for n, _ in self.attached])
            self.attached = []

    def network_settings(self) -> dict:
        """docker's NetworkSettings for `rl inspect` (Ports drives `rl ps` and `rl port`)."""
        user_mode = self.plan.mode in ("slirp4netns", "pasta")
        address = gateway = ""
        if user_mode:
            from rootless.engine.net import slirp

            address, gateway = slirp.ADDRESS, slirp.GATEWAY
        name = {"slirp4netns": "bridge", "pasta": "pasta"}.get(self.plan.mode, self.plan.mode)
        if self.attached:
            return self._user_network_settings(user_mode, address, gateway, name)
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


    def _user_network_settings(self, user_mode: bool, address: str, gateway: str, name: str) -> dict:
        """docker's NetworkSettings of a container on user networks (one entry per network; the
        top-level address fields are docker's default-bridge ones: empty unless slirp4netns too)."""
        from rootless.engine.net import endpoints

        networks = {n["Name"]: endpoints.settings(n, ep) for n, ep in self.attached}
        if user_mode:
            networks = {name: {"NetworkID": "", "EndpointID": "", "Gateway": gateway, "IPAddress": address,
                               "IPPrefixLen": 24, "MacAddress": "", "Aliases": None}, **networks}
        return {"Bridge": "", "SandboxID": "", "HairpinMode": False, "SandboxKey": f"/proc/{self.pid}/ns/net",
                "Ports": ports.network_ports(self.plan.exposed, self.bound), "Gateway": gateway,
                "IPAddress": address, "IPPrefixLen": 24 if user_mode else 0, "MacAddress": "",
                "Networks": networks}


def start(api_socket: Path | None, pid: int, p: Plan, bound: list[Listener]) -> Running:
    """Start the user-mode stack and the forwarder for the container whose first process is `pid`
    (created, not yet started). Closes `bound` (the forwarder holds them). On failure everything
    started is stopped and the error (NetworkSetupError) raised."""
    running = Running(p, pid, bound=[b.bound for b in bound])
    try:
        if p.mode == "slirp4netns":
            from rootless.engine.net import slirp

            if api_socket is not None:
                api_socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            running.stack = slirp.start(pid, api_socket=api_socket)
        elif p.mode == "pasta":
            from rootless.engine.net import pasta

            running.stack = pasta.start(pid)
        if p.networks:
            from rootless.engine.net import endpoints, holder

            info = holder.current(p.paths) or holder.ensure(p.paths)
            running.attached = endpoints.attach_all(p.paths, info, p.cid, p.name, pid, p.networks,
                                                    first_route=p.mode == "usernet")
        if bound:
            from rootless.engine.net import forwarder

            running.forwarder = forwarder.spawn(pid, bound)
    except BaseException:
        running.stop()
        raise
    finally:
        for listener in bound:
            listener.close()
    return running
