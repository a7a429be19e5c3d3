"""Turn plain data (from YAML or JSON) into the typed model, with located errors.

msgspec converts each node; task lists are built here, item by item, because a task's type
is given by which key it has. Errors carry the JSON pointer of the offending node.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from flunq.dsl import model as m
from flunq.errors import DefinitionError

#: Where each task class keeps its nested task lists, as attribute paths.
_NESTED: dict[type, tuple[tuple[str, ...], ...]] = {
    m.DoTask: (("do",),),
    m.ForTask: (("do",),),
    m.ForkTask: (("fork", "branches"),),
    m.TryTask: (("try_",), ("catch", "do")),
    m.ListenTask: (("foreach", "do"),),
    m.CallAsyncApi: (("with_", "subscription", "foreach", "do"),),
}

_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]|\['((?:[^'\\]|\\.)*)'\]")


def escape(token: str) -> str:
    """Escape one JSON-pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def msgspec_pointer(message: str) -> tuple[str, str]:
    """Split msgspec's ``"... - at `$.a[0].b`"`` into (message, ``/a/0/b``)."""
    text, sep, path = message.rpartition(" - at `")
    if not sep:
        return message, ""
    path = path.rstrip("`")
    parts = []
    for match in _PATH_TOKEN.finditer(path[1:]):
        key, index, quoted = match.groups()
        token = key if key is not None else index if index is not None else quoted
        if token is None:  # `[...]`: a dict key msgspec does not show
            break
        parts.append(escape(token))
    return text, "".join("/" + p for p in parts)


def _convert(data: Any, cls: type, pointer: str) -> Any:
    try:
        return msgspec.convert(data, cls, strict=True)
    except msgspec.ValidationError as exc:
        text, rel = msgspec_pointer(str(exc))
        unknown = _UNKNOWN_FIELD.match(text)
        if unknown and "[...]" not in str(exc):  # point at the property, not at its parent
            rel += "/" + escape(unknown.group(1))
        raise DefinitionError(_friendlier(text), pointer=pointer + rel) from None


_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(.*)`$", re.DOTALL)

#: What each pattern of the model means, for messages (msgspec would print the regex).
_PATTERNS = {
    m.SEMVER: "a semantic version such as '1.0.0'",
    m.LABEL: "a name of letters, digits and '-' (at most 63, not starting or ending with '-')",
    m.URI: "a URI with a scheme, such as https://...",
    m.RUNTIME_EXPRESSION: "a ${ } runtime expression",
}


def _friendlier(text: str) -> str:
    if text.startswith("Object contains unknown field"):
        return text.replace("Object contains unknown field", "unknown property")
    if text.startswith("Object missing required field"):
        return text.replace("Object missing required field", "missing required property")
    for pattern, meaning in _PATTERNS.items():
        if text == f"Expected `str` matching regex {pattern!r}":
            return f"expected {meaning}"
    return text


def build_workflow(data: Any) -> m.Workflow:
    """Build the typed model of a whole document; raise :class:`DefinitionError` if invalid."""
    if not isinstance(data, dict):
        raise DefinitionError(
            f"a workflow document must be a mapping, not {_type_name(data)}", pointer=""
        )
    for key in ("document", "do"):
        if key not in data:
            raise DefinitionError(f"missing required property `{key}`", pointer="")
    shallow = dict(data)
    shallow["do"] = []
    use = shallow.get("use")
    if isinstance(use, dict):
        shallow["use"] = _use_without_lists(use)
    wf = _convert(shallow, m.Workflow, "")
    wf.do = build_task_list(data["do"], "/do")
    if wf.use is not None and isinstance(use, dict):
        _build_use(wf.use, use)
    return wf


def _use_without_lists(use: dict[str, Any]) -> dict[str, Any]:
    out = dict(use)
    if isinstance(use.get("functions"), dict):
        out["functions"] = {}
    if isinstance(use.get("extensions"), list):
        out["extensions"] = [
            {k: _without(v, ("before", "after")) for k, v in item.items()}
            if isinstance(item, dict)
            else item
            for item in use["extensions"]
        ]
    return out


def _without(value: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: ([] if k in keys and isinstance(v, list) else v) for k, v in value.items()}


def _build_use(use: m.Use, raw: dict[str, Any]) -> None:
    functions = raw.get("functions")
    if isinstance(functions, dict):
        use.functions = {
            name: build_task_item(name, body, f"/use/functions/{escape(name)}")
            for name, body in functions.items()
        }
    if use.extensions:
        for index, item in enumerate(use.extensions):
            for name, ext in item.items():
                base = f"/use/extensions/{index}/{escape(name)}"
                raw_ext = raw["extensions"][index][name]
                if ext.before is not None:
                    ext.before = build_task_list(raw_ext["before"], base + "/before")
                if ext.after is not None:
                    ext.after = build_task_list(raw_ext["after"], base + "/after")


def build_task_list(data: Any, pointer: str) -> list[m.TaskItem]:
    if not isinstance(data, list):
        raise DefinitionError(
            f"a task list must be a sequence of single-key mappings, not {_type_name(data)}",
            pointer=pointer,
        )
    items = []
    for index, entry in enumerate(data):
        here = f"{pointer}/{index}"
        if not isinstance(entry, dict) or len(entry) != 1:
            what = f"a mapping with {len(entry)} keys" if isinstance(entry, dict) else _type_name(entry)
            raise DefinitionError(
                f"each task list item must be a mapping with exactly one key (the task name), not {what}",
                pointer=here,
            )
        ((name, body),) = entry.items()
        if not isinstance(name, str) or not name:
            raise DefinitionError("a task name must be a non-empty string", pointer=here)
        items.append(build_task_item(name, body, f"{here}/{escape(name)}"))
    return items


def build_task_item(name: str, body: Any, ref: str) -> m.TaskItem:
    return m.TaskItem(name=name, task=build_task(body, ref), ref=ref, raw=body)


def build_task(data: Any, pointer: str) -> Any:
    if not isinstance(data, dict):
        raise DefinitionError(f"a task must be a mapping, not {_type_name(data)}", pointer=pointer)
    cls = _task_class(data, pointer)
    nested = _NESTED.get(cls, ())
    shallow = _strip_lists(data, cls, nested)
    task = _convert(shallow, cls, pointer)
    for path in nested:
        raw_list = _raw_at(data, cls, path)
        if raw_list is None:
            continue
        owner = task
        for attr in path[:-1]:
            owner = getattr(owner, attr)
            if owner is None:
                break
        else:
            rel = "/".join(_json_names(cls, path))
            setattr(owner, path[-1], build_task_list(raw_list, f"{pointer}/{rel}"))
    return task


def _task_class(data: dict[str, Any], pointer: str) -> type:
    for key, cls in m.TASK_KEYS:
        if key in data:
            if key == "call":
                call = data["call"]
                if not isinstance(call, str):
                    raise DefinitionError(
                        f"`call` must be a string, not {_type_name(call)}", pointer=pointer + "/call"
                    )
                return m.CALL_CLASSES.get(call, m.CallFunction)
            return cls
    keys = ", ".join(k for k, _ in m.TASK_KEYS)
    found = ", ".join(f"`{k}`" for k in data) or "no keys"
    raise DefinitionError(
        f"unknown task type: expected one of the keys {keys}; found {found}", pointer=pointer
    )


def _json_names(cls: type, path: tuple[str, ...]) -> list[str]:
    """JSON keys of an attribute path (``("try_",)`` -> ``["try"]``)."""
    names = []
    owner: Any = cls
    for attr in path:
        info = msgspec.structs.fields(owner) if owner is not None else ()
        f = next((f for f in info if f.name == attr), None)
        names.append(f.encode_name if f is not None else attr)
        owner = _struct_type(f.type) if f is not None else None
    return names


def _struct_type(tp: Any) -> Any:
    args = getattr(tp, "__args__", None)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    for arg in args or ():
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


def _raw_at(data: Any, cls: type, path: tuple[str, ...]) -> Any:
    node = data
    for key in _json_names(cls, path):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _strip_lists(data: dict[str, Any], cls: type, nested: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """Copy ``data`` with each nested task list replaced by ``[]`` (built separately)."""
    out = dict(data)
    for path in nested:
        keys = _json_names(cls, path)
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                break
            node[key] = child = dict(child)
            node = child
        else:
            if isinstance(node.get(keys[-1]), list):
                node[keys[-1]] = []
    return out


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
