"""A small reader for the conformance suite's Gherkin files.

The CTK uses only ``Feature``, ``Scenario``, steps (``Given``/``When``/``Then``/``And``/
``But``), ``#`` comments and ``\"\"\"`` doc strings, so a line reader is enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

KEYWORDS = ("Given", "When", "Then", "And", "But")


@dataclass
class Step:
    keyword: str
    text: str
    doc: str | None = None
    line: int = 0


@dataclass
class Scenario:
    feature: str
    name: str
    path: Path
    line: int
    steps: list[Step] = field(default_factory=list)


def _dedent(lines: list[str], indent: int) -> str:
    return "\n".join(line[indent:] if line[:indent].strip() == "" else line.lstrip() for line in lines)


def parse(path: Path) -> list[Scenario]:
    feature = ""
    scenarios: list[Scenario] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        text = raw.strip()
        if text.startswith("Feature:"):
            feature = text.removeprefix("Feature:").strip()
        elif text.startswith("Scenario:"):
            scenarios.append(Scenario(feature, text.removeprefix("Scenario:").strip(), path, i + 1))
        elif text.startswith('"""'):
            indent = len(raw) - len(raw.lstrip())
            end = i + 1
            while not lines[end].strip().startswith('"""'):
                end += 1
            scenarios[-1].steps[-1].doc = _dedent(lines[i + 1 : end], indent)
            i = end
        else:
            match = re.match(rf"({'|'.join(KEYWORDS)})\s+(.*)$", text)
            if match and scenarios:
                scenarios[-1].steps.append(Step(match.group(1), match.group(2).strip(), line=i + 1))
        i += 1
    return scenarios
