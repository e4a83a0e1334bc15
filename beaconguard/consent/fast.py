"""The consent gate's compiled path: ``beaconguard._speedups`` replaying the gate's answers.

The Python gate decides everything; the compiled path only replays what the gate's tables
already hold (a Cookie header resolved before, a cookie name decided before under the same
consent, a response header name classified before) and hands anything else back to the
Python path, which fills the tables. So both give the same answer, and a request the
compiled path has not seen costs what it always did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from types import ModuleType
from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from beaconguard.consent.gate import _PRIVATE, ConsentGate
from beaconguard.consent.state import ConsentState


class CompiledGate(Protocol):
    """``beaconguard._speedups.GateCore``: the gate's tables, replayed per request."""

    def run(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | None:
        """The app's awaitable behind the gate (own routes excepted), or ``None`` when the
        request needs the Python path; nothing has been changed then."""

    def enter(self, scope: Scope, send: Send) -> tuple[Scope, ConsentState, Send] | None:
        """(the scope the app sees, the state, ``send`` gated), or ``None`` when the request
        needs the Python path; nothing has been changed then."""


def speedups() -> ModuleType | None:
    """The compiled module, or ``None`` when it was not built (no C compiler at install)."""
    try:
        from beaconguard import _speedups
    except ImportError:
        return None
    return _speedups


def compiled_gate(
    gate: ConsentGate, owner: Any, routes: Mapping[str, Any]
) -> CompiledGate | None:
    """The compiled path for ``gate``, or ``None`` when the extension was not built.

    ``owner`` is the middleware: its ``app`` is read on each request, so replacing it works
    as it does on the Python path. ``routes`` are its own endpoints (the same dict: routes
    added later are seen); a request for one of them takes the Python path.
    """
    module = speedups()
    if module is None:
        return None
    masks = range(len(gate._keep))
    fallback_free = gate._country is None
    csp = gate.csp
    cookies: tuple[dict[bytes, Any], dict[bytes, Any]] = ({}, {})
    core = module.GateCore(
        owner=owner,
        routes=routes,
        cache_plain=cookies[0],
        cache_gpc=cookies[1],
        # Without cookies, the state is one of two shared objects, unless the visitor's
        # country decides it (region defaults): then Python looks it up.
        default_state=gate.default_state if fallback_free else None,
        gpc_state=gate.gpc_default if fallback_free else None,
        default_mask=gate.default_state.mask,
        gpc_mask=gate.gpc_default.mask,
        keep=tuple(gate._keep[m] for m in masks),
        kinds=gate._header_kinds,
        policies=None if csp is None else tuple((csp.header, csp.policy(m)) for m in masks),
        private_header=_PRIVATE,
        fallback=gate.fast_fallback,
    )
    gate.fast_cookies = cookies
    compiled: CompiledGate = core
    return compiled
