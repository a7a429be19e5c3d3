"""Replaying recorded journals reproduces exactly what was recorded, from scratch and from
a snapshot taken after any fact. See :mod:`tests.golden` to regenerate on purpose."""

from __future__ import annotations

import os

import pytest

from tests.golden.journal import (
    CASES,
    case_names,
    definition,
    read_expected,
    read_facts,
    record,
    replay,
    write_expected,
    write_facts,
)
from tests.golden.recipes import RECIPES

REGEN = os.environ.get("FLUNQ_REGEN_GOLDEN", "")
NAMES = case_names()


def test_every_case_has_its_files_and_a_recipe() -> None:
    assert len(NAMES) >= 10
    assert sorted(RECIPES) == NAMES
    for name in NAMES:
        for file in ("workflow.yaml", "facts.jsonl", "expected.json"):
            assert (CASES / name / file).is_file(), f"{name}/{file} is missing"


@pytest.mark.parametrize("case", NAMES)
def test_replay_reproduces_the_recorded_expectations(case: str) -> None:
    defn = definition(case)
    if REGEN == "facts":
        write_facts(case, record(defn, RECIPES[case], execution_id=f"golden-{case}"))
    actual = replay(defn, read_facts(case))
    if REGEN:
        write_expected(case, actual)
    assert actual == read_expected(case)


@pytest.mark.parametrize("case", NAMES)
def test_replay_through_a_snapshot_after_any_fact_gives_the_same_result(case: str) -> None:
    defn = definition(case)
    facts = read_facts(case)
    expected = read_expected(case)
    for k in range(len(facts)):
        assert replay(defn, facts, snapshot_after=k) == expected, f"snapshot after fact {k}"


@pytest.mark.parametrize("case", NAMES)
def test_the_recipe_still_records_the_stored_facts(case: str) -> None:
    """The timing the interpreter asks for (timer due times, effect ids) has not drifted."""
    recorded = record(definition(case), RECIPES[case], execution_id=f"golden-{case}")
    assert recorded == read_facts(case)


def test_the_cases_cover_the_interesting_task_kinds() -> None:
    seen = " ".join(str(read_expected(name)["steps"]) for name in NAMES)
    for needle in ("timer.start", "task.retried", "/fork/branches/", "do[1]", "listen ", "unlisten ",
                   "/catch/do[", "perform:http", "cancel-effect", "workflow.start", "emit ",
                   "workflow.suspended", "workflow.cancelled"):
        assert needle in seen, needle
    applied = [step["applied"] for name in NAMES for step in read_expected(name)["steps"]]
    assert False in applied  # some cases replay late or duplicate facts
