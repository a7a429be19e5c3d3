"""The ``${ }`` wrapping rules of runtime expressions (DSL digest §8)."""

from __future__ import annotations

import re

#: The schema's ``runtimeExpression`` pattern. ``re.DOTALL`` on purpose: a YAML block scalar
#: such as ``|-`` can spread one ``${ ... }`` over several lines and is still meant as one
#: expression, while the ECMA ``.`` of the schema would stop at the first line break.
EXPRESSION_PATTERN = re.compile(r"^\s*\$\{.+\}\s*$", re.DOTALL)


def is_expression(value: object) -> bool:
    """Whether ``value`` is a string that is, as a whole, a ``${ ... }`` runtime expression.

    There is no partial interpolation: ``"Hello ${ .name }"`` is a plain string.
    """
    return isinstance(value, str) and EXPRESSION_PATTERN.match(value) is not None


def unwrap(text: str) -> str:
    """Strip an optional ``${ }`` wrapper (and the blanks around it) from ``text``.

    Expression-only fields (``if``, ``when``, ``for.in``...) may be written bare, as the
    conformance suite does, or wrapped; both give the same expression text. A string that is
    not wrapped is returned unchanged.
    """
    if not is_expression(text):
        return text
    inner = text.strip()
    return inner[2:-1].strip()
