"""Find every runtime expression of a workflow and check that it compiles.

Two kinds of places hold expressions (DSL digest §8):

- value positions (``set``, ``with``, ``body``, event data, error details, durations...):
  only strings that are, as a whole, ``${ ... }``;
- expression-only fields, which authors may write bare (``when: .color == "red"``):
  ``if``, switch ``when``, ``for.in``, ``while``, ``input.from``/``output.as``/``export.as``
  (when strings), catch and retry ``when``/``exceptWhen``, listen ``until`` (string form),
  correlation ``from``, extension ``when``, and AsyncAPI ``filter``/``while``/``until``.

In ``loose`` mode other strings may also be tried as expressions, but there a string that
does not compile is kept as a literal, so it is not a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flunq.dsl import model as m
from flunq.dsl.problems import Problems
from flunq.dsl.references import Declared, check_secret_uses
from flunq.dsl.walker import Site
from flunq.errors import ExpressionError
from flunq.expressions import compile_expression, is_expression, unwrap

#: Expression-only fields, as (model class, attribute); ``if`` of every task is added below.
BARE_FIELDS: frozenset[tuple[type, str]] = frozenset(
    {
        (m.SwitchCase, "when"),
        (m.ForSpec, "in_"),
        (m.ForTask, "while_"),
        (m.Input, "from_"),
        (m.Output, "as_"),
        (m.Export, "as_"),
        (m.Catch, "when"),
        (m.Catch, "except_when"),
        (m.RetryPolicy, "when"),
        (m.RetryPolicy, "except_when"),
        (m.EventConsumptionStrategy, "until"),
        (m.Correlation, "from_"),
        (m.Extension, "when"),
        (m.AsyncApiSubscription, "filter"),
        (m.AsyncApiConsume, "while_"),
        (m.AsyncApiConsume, "until"),
    }
)


def is_bare_field(site: Site) -> bool:
    """Whether ``site`` is a field that always holds an expression (wrapped or not)."""
    if site.owner is None or site.field is None:
        return False
    return (site.owner, site.field) in BARE_FIELDS or site.holds(m.TaskBase, "if_")


def expressions(sites: Iterable[Site]) -> Iterator[tuple[str, str]]:
    """(pointer, expression text without ``${ }``) of every expression, in walk order."""
    for site in sites:
        value = site.value
        if isinstance(value, str) and (is_expression(value) or is_bare_field(site)):
            yield site.pointer, unwrap(value)


def check_expressions(workflow: m.Workflow, sites: Iterable[Site], problems: Problems) -> None:
    """Compile each expression with the workflow's language; check the secrets it names."""
    language = workflow.evaluate.language if workflow.evaluate else "jq"
    names = Declared(workflow.use)
    for pointer, text in expressions(sites):
        try:
            compile_expression(text, language)
        except ExpressionError as exc:
            problems.add(f"invalid {language} expression {_shown(text)}: {_one_line(exc.message)}", pointer)
            continue
        check_secret_uses(pointer, text, names, problems)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shown(text: str) -> str:
    flat = _one_line(text)
    return repr(flat if len(flat) <= 60 else flat[:57] + "...")
