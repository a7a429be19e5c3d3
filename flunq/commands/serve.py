"""``flunq serve``: the engine with its HTTP API; all roles by default, or a subset.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when a role failed, 2 for bad
settings or flags.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from flunq.errors import ConfigError
from flunq.logs import configure
from flunq.runtime import RoleFailed, Runtime, install_signal_handlers
from flunq.settings import load_settings
from flunq.store import redact


def add_serve(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the engine and its HTTP API",
                                   description="Run the Flunq engine: API, worker, executor and timer roles.")
    parser.add_argument("--host", default=None, help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="API port (default 8080)")
    parser.add_argument("--roles", default=None, help="comma list of api,worker,executor,timer (default: all)")
    parser.add_argument("--store", default=None, metavar="URL", help="sqlite:///path, redis://..., memory://")
    parser.add_argument("--bus", default=None, metavar="URL", help="memory:// (default), redis://...")
    parser.add_argument("--data-dir", default=None, help="where the embedded SQLite store lives")
    parser.add_argument("--allow-run", default=None, metavar="KINDS", help="enable run tasks: shell,script")
    parser.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            host=args.host, port=args.port, roles=args.roles, store=args.store, bus=args.bus,
            data_dir=args.data_dir, allow_run=args.allow_run,
        )
    except ConfigError as exc:
        print(f"flunq serve: {exc.located()}", file=sys.stderr)
        return 2
    configure(settings.log_level, json=settings.log_json)
    where = settings.resolved_data_dir if not settings.store else redact(settings.store_url)
    print(f"flunq: store {redact(settings.store_url)} (data in {where}); bus {redact(settings.bus)}; "
          f"roles {','.join(settings.roles)}", file=sys.stderr)
    try:
        asyncio.run(_serve(settings))
    except ConfigError as exc:
        print(f"flunq serve: {exc.located()}", file=sys.stderr)
        return 2
    except RoleFailed as exc:
        print(f"flunq serve: {exc.located()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


async def _serve(settings: Any) -> None:
    runtime = Runtime(settings)
    install_signal_handlers(runtime)
    await runtime.run()
