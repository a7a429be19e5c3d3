"""Bus backends, chosen by URL.

>>> bus = open_bus("memory://")                       # in-process, the embedded default
>>> bus = open_bus("redis://127.0.0.1:6379/0?prefix=flunq", redeliver_after=30)

Backends are imported on first use, so a deployment only needs the drivers it uses.
The contract every backend implements is in :mod:`flunq.bus.base`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from flunq.bus.base import Bus, DeadLetter, Message, Subscription
from flunq.errors import ConfigError

__all__ = ["SCHEMES", "Bus", "DeadLetter", "Message", "Subscription", "open_bus"]

#: URL scheme -> "module:class"; each class has ``from_url(url, **options)``.
SCHEMES: dict[str, str] = {
    "memory": "flunq.bus.memory:MemoryBus",
    "redis": "flunq.bus.redis:RedisBus",
    "rediss": "flunq.bus.redis:RedisBus",
}


def _redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + host).geturl()


def open_bus(url: str, **options: Any) -> Bus:
    """A bus for ``url`` (not connected yet: ``await bus.start()``).

    ``options`` go to the backend: ``redeliver_after`` (seconds) and ``max_deliveries``
    for all of them, plus backend-specific ones (see each backend's constructor).
    Raises :class:`~flunq.errors.ConfigError` for an unknown scheme or option.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    target = SCHEMES.get(scheme)
    if target is None:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        raise ConfigError(f"unsupported bus URL {_redacted(url)!r}; supported schemes: {supported}")
    module_name, _, class_name = target.partition(":")
    backend = getattr(import_module(module_name), class_name)
    try:
        bus: Bus = backend.from_url(url, **options)
    except TypeError as exc:
        # The constructors only take keyword options: a TypeError is a wrong option name.
        raise ConfigError(f"bad option for the {scheme}:// bus: {exc}") from exc
    return bus
