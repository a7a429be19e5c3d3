"""Semantic-version ordering of workflow definition versions.

"Latest" means the highest version by SemVer 2.0 precedence, not by string order:
``1.10.0`` is above ``1.9.0``, and a pre-release is below its release
(``2.0.0-rc.1 < 2.0.0``). Build metadata does not change precedence; two versions that
differ only by it are ordered by their text so that sorting stays deterministic.

Versions that are not SemVer (the DSL requires SemVer, but stores must not choke on old
rows) sort below every SemVer version, by text. A leading ``v`` and missing minor or patch
numbers (``v1``, ``1.2``) are accepted as ``1.0.0`` and ``1.2.0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def version_key(version: str) -> tuple[Any, ...]:
    """A sort key giving SemVer precedence (ties broken by the text)."""
    m = _SEMVER.match(version)
    if m is None:
        return (0, version)
    major, minor, patch, pre = m.groups()
    return (1, int(major), int(minor or 0), int(patch or 0), _pre_key(pre), version)


def _pre_key(pre: str | None) -> tuple[Any, ...]:
    # A release (no pre-release part) ranks above any of its pre-releases.
    if pre is None:
        return (1,)
    parts: list[tuple[int, int | str]] = []
    for ident in pre.split("."):
        # Numeric identifiers compare as numbers and rank below alphanumeric ones.
        parts.append((0, int(ident)) if ident.isdigit() else (1, ident))
    return (0, tuple(parts))


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Versions from lowest to highest precedence."""
    return sorted(versions, key=version_key)


def latest(versions: Iterable[str]) -> str | None:
    """The highest version, or None for none."""
    best: str | None = None
    best_key: tuple[Any, ...] | None = None
    for v in versions:
        k = version_key(v)
        if best_key is None or k > best_key:
            best, best_key = v, k
    return best
