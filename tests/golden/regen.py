"""Regenerate golden files: ``python -m tests.golden.regen [--facts] [CASE...]``.

Without ``--facts`` only ``expected.json`` is rewritten, by replaying the stored facts;
with it the facts are first re-recorded from :mod:`tests.golden.recipes`.
"""

from __future__ import annotations

import argparse

from tests.golden.journal import (
    case_names,
    definition,
    read_facts,
    record,
    replay,
    write_expected,
    write_facts,
)
from tests.golden.recipes import RECIPES


def regenerate(case: str, facts: bool) -> None:
    defn = definition(case)
    if facts:
        write_facts(case, record(defn, RECIPES[case], execution_id=f"golden-{case}"))
    write_expected(case, replay(defn, read_facts(case)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", action="store_true", help="re-record facts.jsonl from the recipes")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    for case in args.cases or case_names():
        regenerate(case, args.facts)
        print(f"regenerated {case}{' (facts too)' if args.facts else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
