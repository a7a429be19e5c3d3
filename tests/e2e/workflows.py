"""The workflows the end-to-end tests run, and what each must output.

Each one calls the test's :class:`~tests.e2e.support.EffectServer` with its own execution id
(``$workflow.id``) in the path, so the server's counters tell which effects of which
execution happened, and how often.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "e2e"


def _document(name: str, body: str) -> str:
    return f"""\
document:
  dsl: '1.0.0'
  namespace: {NAMESPACE}
  name: {name}
  version: '1.0.0'
{body}"""


def _get(server: str, route: str, tail: str, indent: int = 6) -> str:
    """A ``call: http`` GET of ``{server}/{route}/{execution id}{tail}``, as the body of a
    task whose keys sit ``indent`` spaces in."""
    pad = " " * indent
    return (f"call: http\n"
            f"{pad}with:\n"
            f"{pad}  method: get\n"
            f"{pad}  endpoint: '${{ \"{server}/{route}/\" + $workflow.id + \"{tail}\" }}'")


def chain(server: str, steps: int = 5, delay_ms: int = 100) -> str:
    """``steps`` sequential GETs; the output is the last response."""
    tasks = "".join(f"  - s{i}:\n      {_get(server, 'ok', f'/{i}?ms={delay_ms}')}\n" for i in range(1, steps + 1))
    return _document("chain", f"do:\n{tasks}")


def waits(server: str) -> str:
    """Waits of 0.2, 0.7 and 1.5 s around two GETs; the output names the input's tag."""
    body = f"""\
do:
  - first:
      wait:
        milliseconds: 200
  - s1:
      {_get(server, 'ok', '/1')}
  - second:
      wait:
        milliseconds: 700
  - s2:
      {_get(server, 'ok', '/2')}
  - third:
      wait:
        milliseconds: 1500
  - done:
      set:
        waited: '${{ .step }}'
        tag: '${{ $workflow.input.tag }}'
"""
    return _document("waits", body)


def retries(server: str, fails: int = 2) -> str:
    """A GET that fails ``fails`` times (503) before it succeeds, retried every 0.1 s."""
    body = f"""\
do:
  - guarded:
      try:
        - flaky:
            {_get(server, 'flaky', f'/{fails}', indent=12)}
      catch:
        errors:
          with:
            status: 503
        retry:
          delay:
            milliseconds: 100
          backoff:
            constant: {{}}
          limit:
            attempt:
              count: {fails + 4}
"""
    return _document("retries", body)


def loop(server: str) -> str:
    """A ``for`` over the input's items: a GET and a short wait for each."""
    body = f"""\
do:
  - each:
      for:
        each: item
        in: '${{ .items }}'
      do:
        - get:
            call: http
            with:
              method: get
              endpoint: '${{ "{server}/ok/" + $workflow.id + "/item" + ($item | tostring) }}'
        - pause:
            wait:
              milliseconds: 100
  - done:
      set:
        items: '${{ $workflow.input.items }}'
"""
    return _document("loop", body)


def slow(server: str, ms: int = 30_000) -> str:
    """One GET whose first attempt takes ``ms`` milliseconds (later ones are quick)."""
    return _document("slow", f"do:\n  - call:\n      {_get(server, 'slow', f'/{ms}')}\n")


def expected(name: str, execution_id: str, data: Any) -> Any:
    """What an execution of workflow ``name`` started with ``data`` must output."""
    if name == "chain":
        return {"key": execution_id, "step": 5}
    if name == "waits":
        return {"waited": 2, "tag": data["tag"]}
    if name == "retries":
        return {"key": execution_id, "ok": True}
    if name == "loop":
        return {"items": data["items"]}
    if name == "slow":
        return {"key": execution_id, "slow": True}
    raise KeyError(name)


def effects_of(name: str, execution_id: str, data: Any) -> list[tuple[str, str, str]]:
    """The ``(route, key, step)`` counters each execution must have raised at least once."""
    if name == "chain":
        return [("ok", execution_id, str(i)) for i in range(1, 6)]
    if name == "waits":
        return [("ok", execution_id, "1"), ("ok", execution_id, "2")]
    if name == "retries":
        return [("flaky", execution_id, "")]
    if name == "loop":
        return [("ok", execution_id, f"item{i}") for i in data["items"]]
    if name == "slow":
        return [("slow", execution_id, "")]
    raise KeyError(name)
