"""A small lexical pass over jq text, run once per compiled expression.

It finds the ``$name`` variables an expression references, so that only those are
serialised for each evaluation (``$workflow.definition`` can be large), and it refuses the
few constructs that would break out of the wrapper :mod:`flunq.expressions.jq` puts around
the text: a ``)`` that closes more than the text opened, module directives, NUL characters.

It knows just enough of jq's lexer to skip string literals (with ``\\( ... )``
interpolations, whose variables do count) and ``#`` comments (a backslash escapes the
next character there, newline included, as in jq 1.7.1).
"""

from __future__ import annotations

from string import ascii_letters, digits

from flunq.errors import ExpressionError

_IDENT_START = frozenset(ascii_letters + "_")
_IDENT = _IDENT_START | frozenset(digits)
#: Bound by the wrapper itself (to ``{}``), never taken from the caller. Names starting
#: with ``__`` belong to jq (``$__loc__``, ``$__prog_args``): never bound either.
_RESERVED = "ENV"
_DIRECTIVES = frozenset({"import", "include"})
_STRING = -1  # a frame of the scanner's stack that is a string literal; others count "("


def jq_variables(text: str) -> frozenset[str]:
    """The names (without ``$``) of the variables ``text`` references.

    Names the expression binds itself (``. as $x``) are included too; the caller passes
    ``null`` for them and jq's own binding shadows it, so that is harmless.
    Raises :class:`ExpressionError` for text the wrapper cannot hold safely.
    """
    if "\x00" in text:
        raise ExpressionError("NUL character in expression", expression=text)
    names: set[str] = set()
    frames = [0]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if frames[-1] == _STRING:
            i = _string_step(text, i, frames)
        elif c == "#":
            i = _comment_end(text, i)
        elif c == "$":
            end = ident_end(text, i + 1)
            names.add(text[i + 1 : end])
            i = max(end, i + 1)
        elif c in _IDENT_START and (i == 0 or text[i - 1] not in _IDENT):
            end = ident_end(text, i)
            _refuse_directive(text, i, end)
            i = end
        else:
            _code_step(text, c, frames)
            i += 1
    return frozenset(n for n in names if n and n != _RESERVED and not n.startswith("__"))


def _string_step(text: str, i: int, frames: list[int]) -> int:
    c = text[i]
    if c == "\\":
        if text.startswith("(", i + 1):
            frames.append(0)  # interpolation: code until its matching ")"
        return i + 2
    if c == '"':
        frames.pop()
    return i + 1


def _code_step(text: str, c: str, frames: list[int]) -> None:
    if c == '"':
        frames.append(_STRING)
    elif c == "(":
        frames[-1] += 1
    elif c == ")":
        if frames[-1] > 0:
            frames[-1] -= 1
        elif len(frames) > 1:
            frames.pop()  # end of a "\( ... )" interpolation: back inside the string
        else:
            raise ExpressionError("unbalanced ')' in expression", expression=text)


def _comment_end(text: str, i: int) -> int:
    j = i + 1
    while j < len(text) and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return j


def ident_end(text: str, i: int) -> int:
    """The index after the identifier ``[A-Za-z_][A-Za-z0-9_]*`` at ``i`` (``i`` if none)."""
    if i >= len(text) or text[i] not in _IDENT_START:
        return i
    j = i + 1
    while j < len(text) and text[j] in _IDENT:
        j += 1
    return j


def _refuse_directive(text: str, start: int, end: int) -> None:
    # `import "m" as m;` / `include @text "m";` would make jq read module files. The keyword
    # is fine as an object key (`{import: 1}`, `{include}`) or a field (`.import`).
    if text[start:end] not in _DIRECTIVES or (start > 0 and text[start - 1] in ".$"):
        return
    if text[end:].lstrip()[:1] not in (":", ",", "}"):
        raise ExpressionError(
            f"'{text[start:end]}' directives are not allowed in runtime expressions",
            expression=text,
        )
