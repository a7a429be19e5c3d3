"""The HTTP API (``/api/v1``): Starlette routes over the engine's services."""

from flunq.api.app import create_app

__all__ = ["create_app"]
