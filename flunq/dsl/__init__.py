"""The workflow DSL: loading, the typed model, semantic validation.

``load(text, source)`` / ``load_file(path)`` parse YAML or JSON, build the typed
:class:`~flunq.dsl.model.Workflow` and run every semantic check of
:func:`~flunq.dsl.validator.validate`, raising located
:class:`~flunq.errors.DefinitionError` s. ``parse_duration`` turns a duration literal or
inline object into seconds.
"""

from flunq.dsl.durations import parse_duration
from flunq.dsl.loader import LoadedDocument, load, load_file
from flunq.dsl.model import Workflow
from flunq.dsl.positions import Positions
from flunq.dsl.validator import validate

__all__ = [
    "LoadedDocument",
    "Positions",
    "Workflow",
    "load",
    "load_file",
    "parse_duration",
    "validate",
]
