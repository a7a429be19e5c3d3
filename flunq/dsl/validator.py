"""Semantic checks of a workflow, beyond what the schema (and the typed model) says.

:func:`validate` runs every check on a built :class:`~flunq.dsl.model.Workflow` and raises
one :class:`~flunq.errors.DefinitionErrors` listing *all* problems, each with the JSON
pointer of the offending node. :func:`flunq.dsl.loader.load` calls it (and adds file, line
and column to each problem); call it yourself only for a model built some other way.

The checks, by module:

- here: supported ``document.dsl`` and ``evaluate.language``; durations; author-given
  variable names; endpoint strings; schedules; ``use.secrets`` without repeats;
- :mod:`flunq.dsl.flow`: task names, ``then`` targets, switch cases;
- :mod:`flunq.dsl.references`: references to ``use`` components and catalogs;
- :mod:`flunq.dsl.shapes`: what the model lets through but the schema forbids (explicit
  ``null`` properties, event attribute types, one extension per ``use.extensions`` item);
- :mod:`flunq.dsl.expression_checks`: every runtime expression compiles; ``$secrets.x``
  names a declared secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from croniter import croniter

from flunq.dsl import model as m
from flunq.dsl.durations import EXAMPLES, is_iso_duration, parse_duration
from flunq.dsl.expression_checks import check_expressions
from flunq.dsl.flow import check_flow
from flunq.dsl.problems import Problems
from flunq.dsl.references import URI, check_references
from flunq.dsl.shapes import check_shapes
from flunq.dsl.walker import Site, may_hold, walk
from flunq.errors import DefinitionError
from flunq.expressions import is_expression

SUPPORTED_DSL_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3")
LANGUAGES = ("jq", "jmespath")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Runtime arguments an author's variable would hide (``for.each: input`` hides ``$input``).
RUNTIME_ARGUMENTS = frozenset(
    {"context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization"}
)
_VARIABLES = (
    (m.ForSpec, ("each", "at")),
    (m.Catch, ("as_",)),
    (m.SubscriptionIterator, ("item", "at")),
)
_SCHEDULE_KINDS = ("every", "cron", "after", "on")


def validate(workflow: m.Workflow, data: Any = None) -> None:
    """Run every semantic check; raise :class:`DefinitionErrors` listing all problems.

    ``data`` is the plain document the model was built from; when given, its header
    (``document.dsl``, ``evaluate.language``) is checked as :func:`check_header` does.
    """
    problems = Problems()
    if data is not None:
        problems.extend(check_header(data))
    else:
        _check_dsl_version(workflow.document.dsl, problems)
    sites = list(walk(workflow))
    check_flow(sites, problems)
    check_references(workflow, sites, problems)
    check_shapes(sites, data, problems)
    _check_values(sites, problems)
    check_expressions(workflow, sites, problems)
    problems.raise_if_any()


def check_header(data: Any) -> list[DefinitionError]:
    """Problems of the DSL version and expression language, read from the plain document.

    Run before building the model: a document for another DSL version is better told so
    than reported for the first property this version does not know.
    """
    problems = Problems()
    if not isinstance(data, dict):
        return []
    document = data.get("document")
    if isinstance(document, dict) and isinstance(document.get("dsl"), str):
        _check_dsl_version(document["dsl"], problems)
    evaluate = data.get("evaluate")
    if isinstance(evaluate, dict) and "language" in evaluate:
        language = evaluate["language"]
        if language not in LANGUAGES:
            problems.add(
                f"unsupported expression language {language!r}: use jq (the default) or jmespath",
                "/evaluate/language",
            )
    return problems.errors


def _check_dsl_version(version: str, problems: Problems) -> None:
    if version not in SUPPORTED_DSL_VERSIONS:
        problems.add(
            f"unsupported DSL version '{version}': Flunq runs Serverless Workflow "
            f"{SUPPORTED_DSL_VERSIONS[0]} to {SUPPORTED_DSL_VERSIONS[-1]}",
            "/document/dsl",
        )


def _check_values(sites: Iterable[Site], problems: Problems) -> None:
    for site in sites:
        _check_duration(site, problems)
        _check_variable(site, problems)
        _check_endpoint(site, problems)
        value = site.value
        if isinstance(value, m.ForSpec) and value.each == value.at:
            problems.add(
                f"for.each and for.at must be different names (both are '{value.at}')",
                f"{site.pointer}/at",
            )
        elif isinstance(value, m.SubscriptionIterator) and value.item == value.at:
            problems.add(
                f"foreach.item and foreach.at must be different names (both are '{value.at}')",
                f"{site.pointer}/at",
            )
        elif isinstance(value, m.Schedule):
            _check_schedule(site, value, problems)
        elif site.holds(m.Use, "secrets") and isinstance(value, list):
            _check_unique_secrets(site, value, problems)


def _check_duration(site: Site, problems: Problems) -> None:
    if not may_hold(site, m.DurationInline):
        return
    value = site.value
    if isinstance(value, str):
        if not is_expression(value) and not is_iso_duration(value):
            problems.add(f"invalid duration {value!r}: expected {EXAMPLES}", site.pointer)
    elif isinstance(value, m.DurationInline):
        try:
            parse_duration(value)
        except DefinitionError as exc:
            problems.add(exc.message, site.pointer)


def _check_variable(site: Site, problems: Problems) -> None:
    name = site.value
    if not isinstance(name, str) or not any(site.holds(cls, *fields) for cls, fields in _VARIABLES):
        return
    if not IDENTIFIER.match(name):
        problems.add(
            f"'{name}' is not a valid variable name: use letters, digits and '_', "
            "not starting with a digit",
            site.pointer,
        )
    elif name in RUNTIME_ARGUMENTS:
        problems.add(
            f"variable name '{name}' would hide the runtime argument ${name}; choose another name",
            site.pointer,
        )


def _check_endpoint(site: Site, problems: Problems) -> None:
    value = site.value
    if not isinstance(value, str):
        return
    if not (may_hold(site, m.EndpointConfig) or site.holds(m.EndpointConfig, "uri")):
        return
    if not is_expression(value) and not URI.match(value):
        problems.add(
            f"endpoint {value!r} is neither a URI with a scheme (such as https://...) "
            "nor a ${ } expression",
            site.pointer,
        )


def _check_schedule(site: Site, schedule: m.Schedule, problems: Problems) -> None:
    given = [kind for kind in _SCHEDULE_KINDS if getattr(schedule, kind) is not None]
    if len(given) != 1:
        found = ", ".join(given) or "none"
        problems.add(
            f"a schedule takes exactly one of every, cron, after, on (found {found})", site.pointer
        )
    if schedule.cron is not None and not croniter.is_valid(schedule.cron):
        problems.add(f"invalid cron expression {schedule.cron!r}", f"{site.pointer}/cron")


def _check_unique_secrets(site: Site, secrets: list[str], problems: Problems) -> None:
    seen: set[str] = set()
    for index, name in enumerate(secrets):
        if name in seen:
            problems.add(f"secret '{name}' is declared twice", f"{site.pointer}/{index}")
        seen.add(name)
