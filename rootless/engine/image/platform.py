"""Platforms ("os/arch[/variant]"): the host's, parsing `--platform`, choosing from an index.

Pure functions; the spellings are the OCI image index's (GOOS/GOARCH names: amd64, arm64, arm/v7).
"""

from __future__ import annotations

import platform as _platform
from rootless.plainclass import dataclass

from rootless.errors import RegistryError, UsageError

_MACHINE_TO_ARCH = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "i386": ("386", ""), "i686": ("386", ""),
    "aarch64": ("arm64", ""), "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
}
#: variants an index may spell while meaning the default
_DEFAULT_VARIANT = {"arm64": "v8", "amd64": "v1"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: "Platform") -> bool:
        """Does an index entry `other` satisfy this wanted platform?"""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if not self.variant:
            return True
        default = _DEFAULT_VARIANT.get(self.architecture)
        return self.variant == other.variant or (self.variant == default and not other.variant)


def host() -> Platform:
    arch, variant = _MACHINE_TO_ARCH.get(_platform.machine(), (_platform.machine(), ""))
    return Platform("linux", arch, variant)


def parse(text: str) -> Platform:
    """`linux/arm64`, `linux/arm/v7`, `arm64` (os defaults to linux)."""
    parts = [p.strip().lower() for p in (text or "").split("/")]
    if not parts or not all(parts) or len(parts) > 3:
        raise UsageError(f"invalid platform {text!r}", "use os/arch[/variant], e.g. linux/arm64")
    if len(parts) == 1:
        parts = ["linux"] + parts
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else "")


def of_descriptor(desc: dict) -> Platform | None:
    p = desc.get("platform")
    if not isinstance(p, dict):
        return None
    return Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant", "") or "")


def select(index: dict, wanted: Platform) -> dict:
    """The manifest descriptor of `index` for `wanted`; error listing what the index offers."""
    available = []
    for desc in index.get("manifests") or []:
        plat = of_descriptor(desc)
        if plat is None or plat.architecture == "unknown":   # attestations, signatures
            continue
        available.append(str(plat))
        if wanted.matches(plat):
            return desc
    listing = ", ".join(available) or "none"
    raise RegistryError(f"no matching manifest for {wanted} in the manifest list entries",
                        f"available platforms: {listing}; choose one with --platform")
