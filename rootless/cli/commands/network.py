"""`rl port`: the published ports of a running container, as docker prints them."""

from __future__ import annotations

from rootless.context import Context


def port(ctx: Context, container: str, private_port: str | None = None) -> int:
    from rootless.engine.container_store import ContainerStore
    from rootless.engine.lifecycle import truth
    from rootless.engine.net import ports

    store = ContainerStore(ctx.paths)
    record = truth.current(store, store.resolve(container))
    running = truth.is_running(record["State"])
    published = (record.get("NetworkSettings") or {}).get("Ports") if running else {}
    for line in ports.port_lines(published or {}, container, private_port):
        print(line)
    return 0
