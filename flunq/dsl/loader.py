"""Load a workflow document: text -> plain data -> typed model -> semantic checks.

:func:`load` and :func:`load_file` accept YAML (1.2 semantics: ``on:`` is the string
``"on"``) and JSON (``.json`` files, or text that starts like a JSON object, get the JSON
parser and its exact error messages). Every failure, from undecodable bytes to an unknown
``then`` target, is a :class:`~flunq.errors.DefinitionError` (several at once:
:class:`~flunq.errors.DefinitionErrors`) with the source, line, column and JSON pointer of
the problem; ``error.located()`` prints ``FILE:LINE:COL: message - at /pointer``.

By default :func:`load` also runs :func:`flunq.dsl.validator.validate`, so a loaded
document is ready to run; pass ``validate=False`` to only parse and build.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from typing import Any

from flunq.dsl.builder import build_workflow
from flunq.dsl.json_parser import parse_json
from flunq.dsl.model import Workflow
from flunq.dsl.positions import Positions, locate_error
from flunq.dsl.validator import check_header
from flunq.dsl.validator import validate as validate_workflow
from flunq.dsl.yaml_parser import parse_yaml
from flunq.errors import DefinitionError, DefinitionErrors

#: Text that starts like a JSON object (``{"`` or ``{}``) is read as JSON, strictly: YAML's
#: flow style ``{document: ...}`` does not start so and still reads as YAML.
_JSON_START = re.compile(r"\A\s*\{\s*[\"}]")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A parsed, built (and by default validated) workflow document."""

    source: str
    data: dict[str, Any]  # the document as plain JSON-like data
    workflow: Workflow
    positions: Positions  # JSON pointer -> (line, column), 1-based

    def locate(self, error: DefinitionError) -> DefinitionError:
        """Add this document's source, line and column to an error found later."""
        return locate_error(error, self.source, self.positions)


def load(text: str | bytes, source: str = "<string>", *, validate: bool = True) -> LoadedDocument:
    """Parse, build and (unless ``validate=False``) check one workflow document.

    ``source`` names the document in messages; a name ending in ``.json`` selects the JSON
    parser. Raises :class:`DefinitionError` / :class:`DefinitionErrors`, located.
    """
    data, positions = parse(text, source)
    try:
        problems = check_header(data)
        if problems:
            raise DefinitionErrors(problems)
        workflow = build_workflow(data)
        if validate:
            validate_workflow(workflow, data)
    except DefinitionError as exc:
        raise locate_error(exc, source, positions) from None
    return LoadedDocument(source=source, data=data, workflow=workflow, positions=positions)


def load_file(path: str | os.PathLike[str], *, validate: bool = True) -> LoadedDocument:
    """:func:`load` the file at ``path``; the path is the source named in messages."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise DefinitionError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    return load(content, source, validate=validate)


def parse(text: str | bytes, source: str = "<string>") -> tuple[Any, Positions]:
    """Only parse: the plain data and the positions of its nodes (no model, no checks)."""
    try:
        content = decode(text)
        if source.lower().endswith(".json") or _JSON_START.match(content):
            return parse_json(content)
        return parse_yaml(content)
    except DefinitionError as exc:
        raise locate_error(exc, source, Positions()) from None


def decode(text: str | bytes) -> str:
    """Text of a document: UTF-8 (or UTF-16/32 with a byte order mark), strictly."""
    if isinstance(text, str):
        content = text
    else:
        encoding = next((name for bom, name in _BOMS if text.startswith(bom)), "utf-8")
        try:
            content = text.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _undecodable(text, exc, encoding) from None
    content = content.removeprefix("\ufeff")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates in a str
        line = content.count("\n", 0, exc.start) + 1
        column = exc.start - (content.rfind("\n", 0, exc.start) + 1) + 1
        raise DefinitionError(
            "the text contains an unpaired surrogate character", pointer="", line=line, column=column
        ) from None
    return content


def _undecodable(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> DefinitionError:
    line = column = None
    if encoding == "utf-8":  # byte offsets map to lines only in an ASCII-compatible encoding
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    bad = raw[exc.start : exc.start + 1].hex()
    return DefinitionError(
        f"the document is not valid {encoding.upper().replace('-SIG', '')} text "
        f"(byte 0x{bad} at offset {exc.start})",
        pointer="",
        line=line,
        column=column,
    )
