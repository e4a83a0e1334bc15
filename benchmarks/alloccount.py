"""Exact allocation counts: a tiny C allocator hook, compiled on first use.

memray follows Python frames with a profile hook, and on CPython 3.11 an attached hook
changes what the interpreter allocates (a frame object per call, a temporary bound method
per C-method call, an iterator per tuple unpacking). This hook counts allocation requests
in the MEM and OBJ domains from one thread and attaches nothing, so the count is what
production does. It needs a C compiler; without one the scenario says so.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sysconfig
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).resolve().parent / "alloccount.c"
NAME = "_bg_alloccount"


def build(directory: Path) -> ModuleType:
    """Compile (once per source and Python) and import the counter; raises if it cannot."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        raise RuntimeError(f"no C compiler ({cc}) to build the allocation counter")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    digest = hashlib.sha256(SOURCE.read_bytes() + suffix.encode()).hexdigest()[:12]
    target = directory / f"{NAME}-{digest}{suffix}"
    if not target.exists():
        directory.mkdir(parents=True, exist_ok=True)
        include = sysconfig.get_paths()["include"]
        cmd = [cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(SOURCE), "-o", str(target)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"building the allocation counter failed: {done.stderr.strip()}")
    spec = importlib.util.spec_from_file_location(NAME, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
