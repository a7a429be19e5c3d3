"""Semantic-version ordering used by the stores for "latest"."""

from __future__ import annotations

import random

from flunq.store.versions import latest, sort_versions, version_key


def test_semver_precedence_not_string_order() -> None:
    # The order given by the SemVer 2.0 spec (section 11), plus numeric fields over 9.
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.9.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
    ]
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert sort_versions(shuffled) == ordered
    assert latest(shuffled) == "10.0.0"


def test_prerelease_is_below_its_release() -> None:
    assert latest(["2.0.0-rc.1", "1.10.0"]) == "2.0.0-rc.1"
    assert latest(["2.0.0-rc.1", "2.0.0", "2.0.0-rc.2"]) == "2.0.0"


def test_build_metadata_does_not_count_but_order_is_stable() -> None:
    assert version_key("1.0.0+b")[:5] == version_key("1.0.0+a")[:5]
    assert sort_versions(["1.0.0+b", "1.0.0+a"]) == ["1.0.0+a", "1.0.0+b"]
    assert latest(["1.0.0+zzz", "1.0.1"]) == "1.0.1"


def test_lenient_and_non_semver_versions() -> None:
    assert sort_versions(["v1.2", "1.1.9", "1"]) == ["1", "1.1.9", "v1.2"]
    # not SemVer at all: below every SemVer version, by text
    assert sort_versions(["1.0.0", "latest", "beta"]) == ["beta", "latest", "1.0.0"]
    assert latest([]) is None
