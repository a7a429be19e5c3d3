"""``run: shell`` and ``run: script``: local processes, off unless the operator enables them.

A process gets a clean environment (``PATH``, ``HOME``, ``LANG`` and the task's
``environment``), never the engine's own (which holds store URLs and credentials). The
result is ``{code, stdout, stderr}``; the interpreter decides what a non-zero code means.
Scripts: ``js``/``javascript`` run with ``node`` (arguments from ``process.argv[2]``),
``python`` with this Python (arguments from ``sys.argv[1]``). Containers need a container
engine, which this runtime does not drive: ``run: container`` is not supported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from typing import Any

from flunq.effects.context import EffectContext
from flunq.errors import WorkflowError, problem

LANGUAGES = {"js": ("node", ".mjs"), "javascript": ("node", ".mjs"), "python": (sys.executable, ".py")}


def _enabled(kind: str, ctx: EffectContext) -> None:
    if kind not in ctx.allow_run:
        raise WorkflowError(problem(
            "authorization", title="Run Disabled",
            detail=f"'run: {kind}' is disabled on this engine; the operator enables it with FLUNQ_ALLOW_RUN={kind}",
        ))


def _environment(extra: Any) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    if isinstance(extra, dict):
        env.update({str(k): v if isinstance(v, str) else str(v) for k, v in extra.items()})
    return env


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    return (value if isinstance(value, str) else str(value)).encode()


async def _spawn(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> dict[str, Any]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
    except OSError as exc:
        raise WorkflowError(problem("runtime", title="Process Failed", detail=f"cannot start {argv[0]}: {exc.strerror}")) from None
    try:
        out, err = await proc.communicate(stdin)
    except asyncio.CancelledError:
        proc.kill()
        raise
    return {"code": proc.returncode, "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace")}


async def run_shell(args: dict[str, Any], ctx: EffectContext) -> dict[str, Any]:
    _enabled("shell", ctx)
    command = args.get("command")
    if not isinstance(command, str):
        raise WorkflowError(problem("validation", detail="shell command must be a string"))
    argv = ["sh", "-c", command, "sh", *[str(a) for a in args.get("arguments") or []]]
    return await _spawn(argv, _text(args.get("stdin")), _environment(args.get("environment")))


async def run_script(args: dict[str, Any], ctx: EffectContext) -> dict[str, Any]:
    _enabled("script", ctx)
    language = str(args.get("language", "")).lower()
    if language not in LANGUAGES:
        raise WorkflowError(problem("configuration", detail=f"script language {language!r} is not supported "
                                    f"(use {', '.join(LANGUAGES)})"))
    code = args.get("code")
    if not isinstance(code, str):
        raise WorkflowError(problem("configuration", detail="scripts from an external 'source' are not supported; inline 'code'"))
    program, suffix = LANGUAGES[language]
    if shutil.which(program) is None:
        raise WorkflowError(problem("runtime", detail=f"{program} is not installed on this executor"))
    with tempfile.TemporaryDirectory(prefix="flunq-script-") as folder:
        path = os.path.join(folder, "script" + suffix)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(code)
        argv = [program, path, *[str(a) for a in args.get("arguments") or []]]
        return await _spawn(argv, _text(args.get("stdin")), _environment(args.get("environment")))


async def run_container(args: dict[str, Any], ctx: EffectContext) -> dict[str, Any]:
    _enabled("container", ctx)
    raise WorkflowError(problem("runtime", title="Not Implemented", status=501,
                                detail="run: container needs a container engine, which this runtime does not drive"))
