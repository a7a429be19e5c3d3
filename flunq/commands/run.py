"""``flunq run FILE [--input JSON | --input @file.json]``: one workflow, in process, to the end.

stdout: the workflow output as JSON (exit 0), or its error object (type, status, title,
detail, instance) as JSON (exit 1). An invalid definition, bad input or usage: exit 2,
with the problems on stderr. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import msgspec

from flunq.dsl import load_file
from flunq.errors import ConfigError, DefinitionError, DefinitionErrors
from flunq.interpreter import Definition, Env
from flunq.settings import Settings, load_secrets

EXIT_OK, EXIT_FAULTED, EXIT_USAGE = 0, 1, 2


def add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run one workflow to the end, in this process",
                                   description="Run one workflow to the end and print its output as JSON.")
    parser.add_argument("file", metavar="FILE", help="the workflow definition (YAML or JSON)")
    parser.add_argument("--input", default=None, help="workflow input: JSON text, or @file.json")
    parser.add_argument("--workflows", default=None, metavar="DIR",
                        help="a folder of definitions that 'run: workflow' tasks may call")
    parser.add_argument("--secrets", default=None, metavar="FILE", help="JSON/TOML file of secrets")
    parser.add_argument("--allow-run", default="", metavar="KINDS",
                        help="enable run tasks of these kinds (comma list: shell,script)")
    parser.add_argument("--max-steps", type=int, default=100_000, help="task budget of the execution")
    parser.set_defaults(handler=run_command)


def _input(text: str | None) -> Any:
    if text is None:
        return {}
    raw: bytes
    if text.startswith("@"):
        try:
            raw = Path(text[1:]).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read input file {text[1:]}: {exc.strerror}") from None
    else:
        raw = text.encode()
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"--input is not valid JSON: {exc}") from None


def _registry(folder: str | None) -> dict[tuple[str, str, str], Definition]:
    known: dict[tuple[str, str, str], Definition] = {}
    if folder is None:
        return known
    for path in sorted(Path(folder).glob("*")):
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            loaded = load_file(path)
            known[loaded.workflow.key] = Definition(loaded.workflow, loaded.data)
    return known


def run_command(args: argparse.Namespace) -> int:
    try:
        loaded = load_file(args.file)
        data = _input(args.input)
        known = _registry(args.workflows)
        secrets = load_secrets(Settings(secrets_file=args.secrets or ""))
    except DefinitionErrors as exc:
        for error in exc.errors:
            print(error.located(), file=sys.stderr)
        return EXIT_USAGE
    except (DefinitionError, ConfigError) as exc:
        print(f"flunq run: {exc.located()}", file=sys.stderr)
        return EXIT_USAGE
    allow = tuple(k.strip() for k in args.allow_run.split(",") if k.strip())
    env = Env(secrets=secrets, max_steps=args.max_steps)
    state = asyncio.run(_execute(Definition(loaded.workflow, loaded.data), data, known, env, allow))
    encoder = msgspec.json.Encoder()
    if state.status == "completed":
        sys.stdout.write(encoder.encode(state.output).decode() + "\n")
        return EXIT_OK
    problem_ = state.error or {"type": "https://serverlessworkflow.io/spec/1.0.0/errors/runtime", "status": 500,
                            "title": f"Workflow {state.status}"}
    sys.stdout.write(encoder.encode(problem_).decode() + "\n")
    return EXIT_FAULTED


async def _execute(defn: Definition, data: Any, known: dict[tuple[str, str, str], Definition], env: Env,
                   allow: tuple[str, ...]) -> Any:
    from flunq.effects import EffectContext
    from flunq.runner import LocalRunner

    def registry(namespace: str, name: str, version: str) -> Definition | None:
        if version == "latest":
            matches = [d for (ns, n, _), d in known.items() if (ns, n) == (namespace, name)]
            return matches[-1] if matches else None
        return known.get((namespace, name, version))

    runner = LocalRunner(effects_context=EffectContext(allow_run=allow), registry=registry, env=env)
    try:
        execution = await runner.run(defn, data)
    finally:
        await runner.aclose()
    return execution.state
