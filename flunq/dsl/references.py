"""Checks that every reference to a reusable component (``use.*``) names one that exists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from flunq.dsl import model as m
from flunq.dsl.problems import Problems, listing
from flunq.dsl.walker import Site, walk

#: ``name:version@catalog``: a function taken from a catalog.
CATALOGED = re.compile(r"^(?P<name>[^:@\s]+):(?P<version>[^@\s]+)@(?P<catalog>[^@\s]+)$")
URI = re.compile(m.URI)
#: Static accesses to a secret in an expression: ``$secrets.name``, ``$secrets["name"]``.
SECRET_USE = re.compile(
    r"""\$secrets\s*(?:\.\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|\.\s*"(?P<quoted>[^"\\]*)"|\.?\s*\[\s*"(?P<indexed>[^"\\]*)"\s*\])"""
)
_SECRET_SCHEMES = (m.BasicAuth, m.BearerAuth, m.DigestAuth, m.OAuth2Auth)
_AUTH_ENTRY = re.compile(r"^/use/authentications/[^/]+$")


class Declared:
    """The names each ``use`` section declares."""

    def __init__(self, use: m.Use | None) -> None:
        use = use or m.Use()
        self.authentications = list(use.authentications or ())
        self.errors = list(use.errors or ())
        self.functions = list(use.functions or ())
        self.retries = list(use.retries or ())
        self.secrets = list(use.secrets or ())
        self.timeouts = list(use.timeouts or ())
        self.catalogs = list(use.catalogs or ())


def check_references(workflow: m.Workflow, sites: Iterable[Site], problems: Problems) -> None:
    """Check references to authentications, errors, functions, catalogs, retries,
    timeouts and secrets (in authentication schemes)."""
    names = Declared(workflow.use)
    for site in sites:
        value = site.value
        if isinstance(value, m.AuthenticationPolicy) and value.use is not None:
            _authentication(site, value.use, names, problems)
        elif isinstance(value, _SECRET_SCHEMES) and value.use is not None:
            _named(value.use, "secret", "use.secrets", names.secrets, f"{site.pointer}/use", problems, "declared")
        elif isinstance(value, m.RaiseSpec) and isinstance(value.error, str):
            _named(value.error, "error", "use.errors", names.errors, f"{site.pointer}/error", problems)
        elif isinstance(value, m.CallFunction):
            _function(value.call, f"{site.pointer}/call", names, problems)
        elif isinstance(value, m.Catch) and isinstance(value.retry, str):
            _named(value.retry, "retry policy", "use.retries", names.retries, f"{site.pointer}/retry", problems)
        if isinstance(value, (m.TaskBase, m.Workflow)) and isinstance(value.timeout, str):
            _named(value.timeout, "timeout", "use.timeouts", names.timeouts, f"{site.pointer}/timeout", problems)
    _check_function_cycles(workflow, problems)


def secret_uses(expression: str) -> Iterator[str]:
    """Names of the secrets an expression reads in a way visible without running it."""
    for match in SECRET_USE.finditer(expression):
        yield match.group("field") or match.group("quoted") or match.group("indexed") or ""


def check_secret_uses(pointer: str, expression: str, names: Declared, problems: Problems) -> None:
    for secret in secret_uses(expression):
        _named(secret, "secret", "use.secrets", names.secrets, pointer, problems, "declared")


def _named(
    name: str,
    what: str,
    section: str,
    declared: list[str],
    pointer: str,
    problems: Problems,
    verb: str = "defined",
) -> None:
    if name not in declared:
        problems.add(f"{what} '{name}' is not {verb} in {section} ({listing(declared, verb)})", pointer)


def _authentication(site: Site, name: str, names: Declared, problems: Problems) -> None:
    pointer = f"{site.pointer}/use"
    if _AUTH_ENTRY.match(site.pointer):
        problems.add(
            f"a reusable authentication cannot refer to another one (use: {name}); "
            "define it with basic, bearer, digest, oauth2 or oidc",
            pointer,
        )
        return
    _named(name, "authentication", "use.authentications", names.authentications, pointer, problems)


def _function(call: str, pointer: str, names: Declared, problems: Problems) -> None:
    if call in names.functions:
        return
    cataloged = CATALOGED.match(call)
    if cataloged:
        catalog = cataloged.group("catalog")
        if catalog != "default" and catalog not in names.catalogs:
            problems.add(
                f"catalog '{catalog}' is not defined in use.catalogs ({listing(names.catalogs)}); "
                "only the runtime's 'default' catalog needs no definition",
                pointer,
            )
        return
    if URI.match(call):
        return
    problems.add(
        f"function '{call}' is not defined in use.functions ({listing(names.functions)}); a call "
        "must be http, openapi, grpc, asyncapi, a2a, mcp, a function name, "
        "name:version@catalog or a URI",
        pointer,
    )


def _check_function_cycles(workflow: m.Workflow, problems: Problems) -> None:
    """A function that calls itself, directly or not, would never finish."""
    functions = (workflow.use.functions if workflow.use else None) or {}
    calls: dict[str, list[str]] = {}
    for name, item in functions.items():
        calls[name] = [
            site.value.call
            for site in walk(item)
            if isinstance(site.value, m.CallFunction) and site.value.call in functions
        ]
    for name, item in functions.items():
        path = _cycle_from(name, calls)
        if path:
            problems.add(f"function '{name}' calls itself ({' -> '.join(path)})", item.ref)


def _cycle_from(start: str, calls: dict[str, list[str]]) -> list[str] | None:
    """A call path from ``start`` back to itself, if any (depth-first, iterative)."""
    stack: list[list[str]] = [[start]]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        for callee in calls.get(path[-1], ()):
            if callee == start:
                return [*path, callee]
            if callee not in seen:
                seen.add(callee)
                stack.append([*path, callee])
    return None
