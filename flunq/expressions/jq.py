"""jq, the default expression language, through the ``jq`` binding (libjq).

The binding fixes ``$variables`` when a program is compiled, so each expression text is
compiled once into a program that takes its variables from its input::

    <prelude> {} as $ENV | .v as {"item": $item, "context": $context} | .d | (<text>

    )

and is fed ``{"v": {"item": ..., "context": ...}, "d": <data>}``. Only the variables the
text references are serialised; one it references but the caller does not give is ``null``.
An expression that references no variable is fed its data directly.

The prelude keeps expressions away from the host: ``$ENV`` and ``env`` are ``{}``;
``halt``/``halt_error`` (which would end the evaluation silently), ``input``/``inputs``,
``input_filename``, ``modulemeta`` and the search-path builtins raise an error; ``debug``
and ``stderr`` are the identity, so nothing is written to the process' stderr.
The wrapper's ``)`` comes after an empty line, so that a trailing ``# comment`` of the
text (even one continued with a backslash) cannot swallow it.

Not covered here: libjq imports ``~/.jq`` (the process owner's file) when it exists, and an
expression may run forever (``[repeat(1)]``); no time limit is enforced at this level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jq as _jq
import msgspec

from flunq.errors import ExpressionError
from flunq.expressions.scanner import jq_variables


def _refuse(name: str) -> str:
    return f'error("{name} is not available in runtime expressions")'


_PRELUDE = " ".join(
    [
        "def env: {};",
        *(
            f"def {name}: {_refuse(name)};"
            for name in (
                "halt",
                "halt_error",
                "input",
                "inputs",
                "input_filename",
                "modulemeta",
                "get_search_list",
                "get_prog_origin",
                "get_jq_origin",
            )
        ),
        f"def halt_error($code): {_refuse('halt_error')};",
        "def debug: .; def debug(msg): .; def stderr: .;",
        "{} as $ENV |",
    ]
)
_NOTHING = object()
_encode = msgspec.json.Encoder().encode


class JqProgram:
    """One compiled jq expression; :meth:`run` evaluates it."""

    __slots__ = ("_names", "_program", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        self.variables = jq_variables(text)
        self._names = tuple(sorted(self.variables))
        self._program = _compile(text, self._names)

    def run(self, data: Any, variables: Mapping[str, Any] | None) -> Any:
        """The first result of the expression on ``data``; no result is an error."""
        if self._names:
            given = variables or {}
            data = {"v": {name: given.get(name) for name in self._names}, "d": data}
        try:
            outputs = self._program.input_text(_to_json(data, self.text))
            result = next(iter(outputs), _NOTHING)
        except ValueError as exc:  # jq reports every runtime error as ValueError
            raise ExpressionError(str(exc), expression=self.text) from None
        if result is _NOTHING:
            raise ExpressionError("expression produced no result", expression=self.text)
        return result


def _compile(text: str, names: tuple[str, ...]) -> Any:
    binding = ""
    if names:
        pattern = ", ".join(f'"{name}": ${name}' for name in names)
        binding = f".v as {{{pattern}}} | .d | "
    try:
        return _jq.compile(f"{_PRELUDE} {binding}({text}\n\n)")
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError for lone surrogates, too
        raise ExpressionError(_compile_message(text, names, exc), expression=text) from None


def _compile_message(text: str, names: tuple[str, ...], wrapped: Exception) -> str:
    # jq's message quotes the faulty line and its position: compile the bare text (without
    # evaluating it) so that both refer to what the author wrote, not to the wrapper.
    try:
        _jq.compile(text, args=dict.fromkeys(names))
    except (ValueError, TypeError) as exc:
        return _tidy(str(exc))
    return _tidy(str(wrapped))


def _tidy(message: str) -> str:
    """One line per jq error, without the source excerpt and the error count."""
    errors = [line.rstrip(":") for line in message.splitlines() if line.startswith("jq: error")]
    return "; ".join(errors) if errors else message.strip()


def _to_json(value: Any, text: str) -> str:
    try:
        return _encode(value).decode()
    except (TypeError, ValueError, OverflowError) as exc:
        raise ExpressionError(
            f"the data or a variable is not JSON: {exc}", expression=text
        ) from None
