"""URI templates as the DSL defines them: RFC 6570 *simple string expansion* only.

``{var}`` is replaced by the value of the top-level key ``var`` of the task's transformed
input, taken verbatim (``{pet.id}`` reads the key ``"pet.id"``, it does not walk into
``pet``). Rules (DSL digest §18):

- an input that is not an object (the scalar ``1``, a list, ``null``) has no variables;
- a missing variable, or one whose value is ``null``, expands to the empty string (RFC 6570
  treats ``null`` as undefined);
- the value must be a string, number or boolean, else :class:`~flunq.errors.ExpressionError`;
- scalars render JSON-style: ``true``/``false``, ``1`` for integers and integral floats
  (jq yields ``1.0`` for ``1``), the shortest round-trip form for other floats;
- the result is percent-encoded like RFC 6570 simple expansion: only unreserved characters
  (``A-Z a-z 0-9 - . _ ~``) are kept, everything else is UTF-8 percent-encoded, ``%``
  included (a value is data, not pre-encoded URI text).

Text outside ``{...}`` is copied unchanged. The interpreter calls :func:`expand` to build the
final URI before it emits the ``call`` command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flunq.errors import ExpressionError

__all__ = ["expand", "render_scalar", "variables_of"]

_EXPRESSION = re.compile(r"\{([^{}]+)\}")


def expand(template: str, variables: Any) -> str:
    """Expand every ``{var}`` of ``template`` from the top-level keys of ``variables``."""
    scope = variables if isinstance(variables, Mapping) else {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = scope.get(name)
        if value is None:
            return ""
        try:
            text = render_scalar(value)
        except TypeError:
            raise ExpressionError(
                f"URI template variable {name!r} must be a string, number, boolean or null, "
                f"not {_json_type(value)}",
                expression=template,
            ) from None
        return quote(text, safe="")

    return _EXPRESSION.sub(substitute, template)


def variables_of(template: str) -> list[str]:
    """The variable names a template refers to, in order of appearance."""
    return _EXPRESSION.findall(template)


def render_scalar(value: Any) -> str:
    """Render a JSON scalar as text the way JSON (and jq) would; ``TypeError`` otherwise.

    ``None`` renders as ``""``: in a URI or header an absent value is empty, not ``null``.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("not a JSON number")
        if value.is_integer():
            return str(int(value))
        return repr(value)
    raise TypeError(f"not a JSON scalar: {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, float):
        return "a non-finite number"
    return type(value).__name__
