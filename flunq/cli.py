"""The ``flunq`` command line.

Each subcommand is registered by a function in :data:`COMMANDS` that adds its subparser
and sets ``handler`` (a function of the parsed arguments returning the exit code). To add
a command, write such a function (``flunq.commands.<name>``) and add it to :data:`COMMANDS`.

Exit codes: 0 success, 1 the command's own failure (for ``validate``: a document has
problems), 2 usage errors (bad arguments, unreadable files).

``flunq validate FILE...`` prints nothing for valid documents (``--verbose``: ``OK FILE``
lines) and one line per problem ``FILE:LINE:COL: message - at /pointer`` on stdout; ``-``
reads a document from standard input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from flunq.commands.run import add_run
from flunq.commands.serve import add_serve
from flunq.dsl.loader import load
from flunq.errors import DefinitionError, DefinitionErrors

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Subparsers = Any  # argparse's private _SubParsersAction
Handler = Callable[[argparse.Namespace], int]


def add_validate(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check workflow definitions",
        description="Check workflow definitions (YAML or JSON); print one line per problem.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="a definition file, or - for stdin")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print 'OK FILE' for valid files")
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Validate each file; 1 if any has problems, 2 if any cannot be read."""
    status = EXIT_OK
    for name in args.files:
        content = _read(name)
        if content is None:
            status = EXIT_USAGE
            continue
        source = "<stdin>" if name == "-" else name
        problems = _problems(content, source)
        for line in problems:
            print(line)
        if problems and status == EXIT_OK:
            status = EXIT_FAILED
        elif not problems and args.verbose:
            print(f"OK {source}")
    return status


def _problems(content: bytes, source: str) -> list[str]:
    try:
        load(content, source)
    except DefinitionErrors as exc:
        return [error.located() for error in exc.errors]
    except DefinitionError as exc:
        return [exc.located()]
    return []


def _read(name: str) -> bytes | None:
    try:
        if name == "-":
            return sys.stdin.buffer.read()
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        print(f"flunq validate: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return None


#: Subcommand name -> function registering its subparser (in ``--help`` order).
COMMANDS: dict[str, Callable[[Subparsers], None]] = {
    "run": add_run,
    "serve": add_serve,
    "validate": add_validate,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flunq", description="Flunq: a Serverless Workflow engine.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS.values():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flunq`` script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
