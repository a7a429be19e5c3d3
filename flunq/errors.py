"""The one error tree of Flunq.

Every error Flunq raises on purpose derives from :class:`FlunqError`. Errors about a
place in a document carry a JSON pointer (and, when the loader knows it, the file, line
and column) so that the message can say where the problem is::

    my.yaml:12:9: unknown task type - at /do/2/fetchOrder

Errors that a *workflow* raises while it runs are not Python exceptions that escape the
engine: they are RFC 7807 problem objects (see :class:`WorkflowError`) which the
interpreter routes to ``try``/``catch`` or turns into a faulted execution.
"""

from __future__ import annotations

from typing import Any

ERROR_TYPE_PREFIX = "https://serverlessworkflow.io/spec/1.0.0/errors/"

#: Default status of each standard error kind of the DSL.
ERROR_STATUS = {
    "configuration": 400,
    "validation": 400,
    "expression": 400,
    "authentication": 401,
    "authorization": 403,
    "timeout": 408,
    "communication": 500,
    "runtime": 500,
}


class FlunqError(Exception):
    """Base of every error Flunq raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        pointer: str | None = None,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.source = source
        self.line = line
        self.column = column

    def located(self) -> str:
        """``FILE:LINE:COL: message - at /pointer``, leaving out what is unknown."""
        where = ""
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        # The root's pointer is "", which would print as nothing: show it as "/".
        at = f" - at {self.pointer or '/'}" if self.pointer is not None else ""
        return f"{where}{self.message}{at}"

    def __str__(self) -> str:
        return self.located()


class DefinitionError(FlunqError):
    """A workflow document is not a valid DSL 1.0 definition."""


class DefinitionErrors(DefinitionError):
    """Several problems found in one document; ``errors`` lists them in document order."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        first = errors[0]
        super().__init__(
            first.message,
            pointer=first.pointer,
            source=first.source,
            line=first.line,
            column=first.column,
        )
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(e.located() for e in self.errors)


class ExpressionError(FlunqError):
    """A runtime expression failed to compile or to evaluate."""

    def __init__(self, message: str, *, expression: str, pointer: str | None = None) -> None:
        super().__init__(message, pointer=pointer)
        self.expression = expression

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(
            "expression",
            title="Expression Error",
            detail=f"{self.message} (in {self.expression!r})",
            instance=instance if instance is not None else self.pointer,
        )


class WorkflowError(FlunqError):
    """An error raised inside a running workflow, carried as an RFC 7807 problem object."""

    def __init__(self, problem_: dict[str, Any]) -> None:
        super().__init__(
            str(problem_.get("detail") or problem_.get("title") or problem_.get("type")),
            pointer=problem_.get("instance"),
        )
        self.problem = problem_

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        title: str | None = None,
        detail: str | None = None,
        status: int | None = None,
        instance: str | None = None,
    ) -> WorkflowError:
        return cls(problem(kind, title=title, detail=detail, status=status, instance=instance))


def problem(
    kind: str,
    *,
    title: str | None = None,
    detail: str | None = None,
    status: int | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """Build a standard DSL error object of ``kind`` (``validation``, ``timeout``, ...)."""
    out: dict[str, Any] = {
        "type": ERROR_TYPE_PREFIX + kind,
        "status": status if status is not None else ERROR_STATUS.get(kind, 500),
    }
    out["title"] = title or f"{kind.capitalize()} Error"
    if detail is not None:
        out["detail"] = detail
    if instance is not None:
        out["instance"] = instance
    return out


class ConfigError(FlunqError):
    """Settings or command-line usage are wrong."""


class BackendError(FlunqError):
    """A store or bus backend failed; the driver's own exception is chained."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached now (connection refused, timed out...)."""


class StoreError(BackendError):
    """Base of store errors."""


class ConcurrencyError(StoreError):
    """An append with an expected sequence number lost the race to another writer."""


class NotFound(StoreError):
    """The tenant has no such workflow, version or execution."""


class Conflict(StoreError):
    """The record exists already with different content."""


class InvalidCursor(StoreError):
    """A list cursor that no store made (mangled or from another query): a client error."""


class BusError(BackendError):
    """Base of bus errors."""
