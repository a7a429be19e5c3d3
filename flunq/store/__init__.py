"""Stores, chosen by URL (see :mod:`flunq.store.base` for the contract).

=============================  ===========================================================
``memory://``                  dicts in this process, for tests
``sqlite:///relative/f.db``    the embedded default: one file (``sqlite:////abs/f.db`` for
                               an absolute path); ``?synchronous=full`` fsyncs every commit
``redis://host:port/db``       Redis (``rediss://`` for TLS); ``?prefix=flunq`` sets the key
                               prefix
=============================  ===========================================================

Backends are imported only when used, so a missing driver only matters to its own URLs.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from flunq.errors import ConfigError
from flunq.store.base import Store

#: scheme -> "module:class"; the class has ``from_url(url, **options)``.
BACKENDS = {
    "memory": "flunq.store.memory:MemoryStore",
    "sqlite": "flunq.store.sqlite:SQLiteStore",
    "redis": "flunq.store.redis:RedisStore",
    "rediss": "flunq.store.redis:RedisStore",
}

__all__ = ["BACKENDS", "Store", "open_store", "redact"]


def redact(url: str) -> str:
    """``url`` without its password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def open_store(url: str, **options: Any) -> Store:
    """A (not yet started) store for ``url``; ``options`` override the URL's query options.

    Call ``await store.start()`` before use and ``await store.close()`` at the end.
    An unknown scheme or option raises :class:`~flunq.errors.ConfigError`.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    target = BACKENDS.get(scheme)
    if target is None:
        supported = ", ".join(f"{s}://" for s in BACKENDS)
        raise ConfigError(f"unsupported store URL {redact(url)!r}: use one of {supported}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"the {scheme}:// store needs a package that is missing: {exc}") from exc
    store: Store = getattr(module, class_name).from_url(url, **options)
    return store
