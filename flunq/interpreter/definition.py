"""A workflow prepared for the interpreter: the model plus the look-ups it needs.

Built once per workflow version and shared by every execution of it (the runtime caches
it), so that nothing here is recomputed per step: task lists and tasks indexed by JSON
pointer, reusable components by name, compiled JSON Schema validators.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec

from flunq.dsl import model as m
from flunq.errors import WorkflowError


def describe_duration(value: m.Duration | None) -> str:
    """A duration as the author wrote it, for messages: ``PT2S``, ``{"seconds":30}``."""
    if isinstance(value, m.DurationInline):
        return msgspec.json.encode(value).decode()
    return str(value)


class Definition:
    """Everything the interpreter reads from a workflow document."""

    def __init__(self, workflow: m.Workflow, raw: dict[str, Any]) -> None:
        self.workflow = workflow
        self.raw = raw
        evaluate = workflow.evaluate or m.Evaluate()
        self.language: str = evaluate.language
        self.mode: str = evaluate.mode
        self.lists: dict[str, list[m.TaskItem]] = {}
        self.tasks: dict[str, m.TaskItem] = {}
        self._validators: dict[int, Any] = {}
        use = workflow.use or m.Use()
        self.use = use
        self.functions: dict[str, m.TaskItem] = dict(use.functions or {})
        self.extensions: list[tuple[str, m.Extension]] = [
            (name, ext) for item in (use.extensions or []) for name, ext in item.items()
        ]
        self._index_list("/do", workflow.do)
        for name, item in self.functions.items():
            self._index_item(item)
            self.lists[self.function_list(name)] = [item]
        for index, (name, ext) in enumerate(self.extensions):
            base = f"/use/extensions/{index}/{name}"
            if ext.before:
                self._index_list(base + "/before", ext.before)
            if ext.after:
                self._index_list(base + "/after", ext.after)

    @property
    def name(self) -> str:
        return self.workflow.document.name

    @property
    def namespace(self) -> str:
        return self.workflow.document.namespace

    @property
    def version(self) -> str:
        return self.workflow.document.version

    def _index_list(self, pointer: str, items: list[m.TaskItem]) -> None:
        self.lists[pointer] = items
        for item in items:
            self._index_item(item)

    def _index_item(self, item: m.TaskItem) -> None:
        self.tasks[item.ref] = item
        task = item.task
        if isinstance(task, (m.DoTask, m.ForTask)):
            self._index_list(item.ref + "/do", task.do)
        elif isinstance(task, m.ForkTask):
            self._index_list(item.ref + "/fork/branches", task.fork.branches)
        elif isinstance(task, m.TryTask):
            self._index_list(item.ref + "/try", task.try_)
            if task.catch.do:
                self._index_list(item.ref + "/catch/do", task.catch.do)
        elif isinstance(task, m.ListenTask):
            if task.foreach is not None and task.foreach.do:
                self._index_list(item.ref + "/foreach/do", task.foreach.do)
        elif isinstance(task, m.CallAsyncApi):
            sub = task.with_.subscription
            if sub is not None and sub.foreach is not None and sub.foreach.do:
                self._index_list(item.ref + "/with/subscription/foreach/do", sub.foreach.do)

    def self_list(self, ref: str) -> str:
        """Key of a one-task list holding the task at ``ref`` (run by extension wrappers)."""
        key = ref + "#self"
        if key not in self.lists:
            self.lists[key] = [self.tasks[ref]]
        return key

    @staticmethod
    def function_list(name: str) -> str:
        """Key of the one-task list that runs ``use.functions.<name>`` for a call."""
        return f"/use/functions/{name}#call"

    # -- reusable components ----------------------------------------------------------

    def timeout(self, value: m.Timeout | str | None) -> m.Duration | None:
        if value is None:
            return None
        if isinstance(value, str):
            found = (self.use.timeouts or {}).get(value)
            if found is None:
                raise WorkflowError.of("configuration", detail=f"unknown timeout '{value}'")
            return found.after
        return value.after

    def retry(self, value: m.RetryPolicy | str | None) -> m.RetryPolicy | None:
        if value is None or isinstance(value, m.RetryPolicy):
            return value
        found = (self.use.retries or {}).get(value)
        if found is None:
            raise WorkflowError.of("configuration", detail=f"unknown retry policy '{value}'")
        return found

    def error(self, value: m.ErrorDefinition | str) -> m.ErrorDefinition:
        if isinstance(value, m.ErrorDefinition):
            return value
        found = (self.use.errors or {}).get(value)
        if found is None:
            raise WorkflowError.of("configuration", detail=f"unknown error '{value}'")
        return found

    def authentication(self, name: str) -> m.AuthenticationPolicy:
        found = (self.use.authentications or {}).get(name)
        if found is None:
            raise WorkflowError.of("configuration", detail=f"unknown authentication policy '{name}'")
        return found

    # -- schemas ----------------------------------------------------------------------

    def validate(self, schema: m.Schema, value: Any, what: str) -> None:
        """Check ``value`` against an inline JSON Schema; raise a ``validation`` error."""
        if schema.resource is not None:
            raise WorkflowError.of(
                "configuration",
                detail=f"{what} schema: external schema resources are not supported, inline the schema",
            )
        validator = self._validators.get(id(schema))
        if validator is None:
            document = schema.document
            cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
            try:
                cls.check_schema(document)
            except jsonschema.SchemaError as exc:
                raise WorkflowError.of(
                    "configuration", detail=f"{what} schema is not a valid JSON Schema: {exc.message}"
                ) from None
            validator = cls(document)
            self._validators[id(schema)] = validator
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            raise WorkflowError.of(
                "validation",
                title="Validation Error",
                detail=f"{what} does not match its schema at {where}: {error.message}",
            )
