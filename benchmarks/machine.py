"""What the figures were measured on: CPU, Python, package versions, commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

PACKAGES = (
    "beaconguard",
    "starlette",
    "uvicorn",
    "orjson",
    "asgi-logger",
    "anonip",
    "memray",
    "redis",
)


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def describe() -> dict[str, Any]:
    cpu = _lscpu()
    return {
        "cpu": cpu.get("Model name") or platform.processor() or "unknown",
        "cpus": int(cpu.get("CPU(s)") or os.cpu_count() or 0),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "python": f"Python {platform.python_version()}",
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "commit": _commit(),
    }


def one_line(info: dict[str, Any]) -> str:
    hyper = f", {info['hypervisor']} VM" if info.get("hypervisor") else ""
    return f"{info['cpu']} ({info['cpus']} CPUs{hyper}), {info['python']}, {info['platform']}"
