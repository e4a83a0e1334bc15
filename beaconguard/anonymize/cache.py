"""A bounded cache in entries *and* in key length, for the processors' hot path.

An LRU of 4096 entries is small until each key is a 15 KB user agent: then it holds 60 MB
that a visitor chose to send. Every processor refuses over-long values anyway, so those
are computed each time (cheaply: the refusal is the first check) and never stored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")


def bounded_cache(func: Callable[..., T], maxsize: int, max_len: int) -> Callable[..., T]:
    """``func`` behind an LRU of ``maxsize`` entries for first arguments up to ``max_len``.

    The returned callable has ``cache_info()`` like an ``lru_cache`` function.
    """
    cached = lru_cache(maxsize=maxsize)(func)
    call: Callable[..., T]
    # On the hot path for every request: no *args tuple for the one-argument processors.
    if len(inspect.signature(func).parameters) == 1:

        def call(value: Any) -> T:
            return func(value) if len(value) > max_len else cached(value)

    else:

        def call(value: Any, *rest: Any) -> T:
            return func(value, *rest) if len(value) > max_len else cached(value, *rest)

    call.cache_info = cached.cache_info  # type: ignore[attr-defined]
    call.__doc__ = func.__doc__
    return call
