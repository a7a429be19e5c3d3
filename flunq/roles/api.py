"""The api role: serves the HTTP API with uvicorn inside the runtime's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from flunq.api import create_app
from flunq.engine import Engine
from flunq.errors import ConfigError
from flunq.roles.base import Role

log = logging.getLogger("flunq.api")


class ApiRole(Role):
    name = "api"

    def __init__(self, engine: Engine, *, host: str, port: int) -> None:
        super().__init__()
        config = uvicorn.Config(
            create_app(engine), host=host, port=port, log_level="warning", lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        # The runtime owns SIGTERM/SIGINT; uvicorn must not take them over.
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self.port: int | None = None
        self.ready = asyncio.Event()  # set once the socket listens

    def _listen(self) -> socket.socket:
        """Bind here, not in uvicorn, which exits the process when it cannot bind."""
        host, port = self.server.config.host, self.server.config.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
        # and without it every kept-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"the API cannot listen on {host}:{port}: {exc.strerror}") from None
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    async def run(self) -> None:
        sock = self._listen()
        self.port = sock.getsockname()[1]
        log.info("API listening on http://%s:%d", self.server.config.host, self.port)
        serving = asyncio.create_task(self.server.serve(sockets=[sock]), name="flunq:api-server")
        self.ready.set()
        stopping = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            stopping.cancel()
            serving.result()
            if not self.stopping:
                raise RuntimeError(f"the API server stopped (could it bind {self.server.config.host}:"
                                   f"{self.server.config.port}?)")
            return
        self.server.should_exit = True
        await serving

