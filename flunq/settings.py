"""All of Flunq's settings, in one frozen object.

Sources, lowest priority first: defaults; a TOML config file (``FLUNQ_CONFIG``, else
``./flunq.toml`` if present); ``FLUNQ_*`` environment variables (``FLUNQ_STORE``,
``FLUNQ_EXECUTOR_CONCURRENCY``...); command-line flags. Nothing below this module reads the
environment.

The seed deployment's variables still work when no URL is given: ``DB_TYPE`` (``sqlite``,
``memory``, ``redis``) and ``EVENT_STREAM_TYPE`` (``memory``, ``redis``), with
``REDIS_URL`` or ``REDIS_HOST``/``REDIS_PORT``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from flunq.errors import ConfigError

ROLES = ("api", "worker", "executor", "timer")


def default_data_dir(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "flunq")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    roles: tuple[str, ...] = ROLES
    store: str = ""  # URL; "" = sqlite in data_dir
    bus: str = "memory://"
    data_dir: str = ""
    # worker
    worker_batch: int = 256  # messages taken from the bus per round
    max_steps: int = 100_000  # tasks one execution may run (runaway guard)
    state_cache: int = 10_000  # executions whose state the worker keeps decoded
    lifecycle_outputs: bool = True  # task outputs in task.completed journal events
    # executor
    executor_concurrency: int = 256
    http_timeout: float = 30.0
    allow_run: tuple[str, ...] = ()  # run kinds the operator enables: shell, script, container
    # timer
    timer_poll: float = 0.05  # seconds between looks at the timer table when idle
    timer_lease: float = 5.0  # a claimed timer whose firing was lost (a crash) comes back after this
    # bus and recovery
    redeliver_after: float = 30.0
    max_deliveries: int = 5
    sweep_interval: float = 30.0
    stale_after: float = 300.0  # re-drive in-flight effects of executions idle this long
    shutdown_timeout: float = 10.0
    # secrets for $secrets and secret-based authentication (name -> value)
    secrets_file: str = ""
    log_level: str = "info"
    log_json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{os.path.join(self.resolved_data_dir, 'flunq.db')}"

    @property
    def resolved_data_dir(self) -> str:
        return self.data_dir or default_data_dir(os.environ)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def check(self) -> Settings:
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown or not self.roles:
            raise ConfigError(f"unknown role(s) {', '.join(unknown) or '(none)'}; roles are {', '.join(ROLES)}")
        split = set(self.roles) != set(ROLES)
        if split and self.bus.startswith("memory:"):
            raise ConfigError(
                "running a subset of roles needs a shared bus and store (e.g. --bus redis://localhost:6379 "
                "--store redis://localhost:6379): the in-process memory bus cannot reach other processes"
            )
        if split and self.store.startswith("memory:"):
            raise ConfigError("running a subset of roles needs a shared store, not memory://")
        bad_run = [k for k in self.allow_run if k not in ("shell", "script", "container")]
        if bad_run:
            raise ConfigError(f"allow_run takes shell, script, container; not {', '.join(bad_run)}")
        return self


def _cast(name: str, kind: Any, value: Any) -> Any:
    """Read ``value`` as the field's type (annotations are strings here)."""
    kind = str(kind)
    try:
        if kind == "tuple[str, ...]":
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            return tuple(str(s).strip() for s in items if str(s).strip())
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}: cannot read {value!r} as {kind}") from None


def _from_mapping(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = {f.name: f.type for f in fields(Settings) if f.name != "extra"}
    out = {}
    for key, value in values.items():
        name = key.lower().replace("-", "_")
        if name not in known:
            raise ConfigError(f"{source}: unknown setting '{key}'")
        out[name] = _cast(name, known[name], value)
    return out


def _seed_variables(env: Mapping[str, str]) -> dict[str, Any]:
    """The seed's DB_TYPE / EVENT_STREAM_TYPE, when no URL is set."""
    redis = env.get("REDIS_URL") or f"redis://{env.get('REDIS_HOST', 'localhost')}:{env.get('REDIS_PORT', '6379')}"
    out: dict[str, Any] = {}
    db = env.get("DB_TYPE", "").lower()
    if db:
        urls = {"redis": redis, "memory": "memory://", "sqlite": ""}
        if db not in urls:
            raise ConfigError(f"DB_TYPE={db} is not supported; use one of {', '.join(urls)}")
        out["store"] = urls[db]
    stream = env.get("EVENT_STREAM_TYPE", "").lower()
    if stream:
        urls = {"redis": redis, "memory": "memory://"}
        if stream not in urls:
            raise ConfigError(f"EVENT_STREAM_TYPE={stream} is not supported; use one of {', '.join(urls)}")
        out["bus"] = urls[stream]
    return out


def load_settings(environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Defaults < config file < seed variables < FLUNQ_* < flags (None flags are ignored)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config = env.get("FLUNQ_CONFIG") or ("flunq.toml" if Path("flunq.toml").is_file() else "")
    if config:
        try:
            with open(config, "rb") as fh:
                values.update(_from_mapping(tomllib.load(fh).get("flunq", {}), config))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config}: {exc}") from None
    values.update(_seed_variables(env))
    prefixed = {k[len("FLUNQ_"):]: v for k, v in env.items() if k.startswith("FLUNQ_") and k != "FLUNQ_CONFIG"}
    prefixed = {k: v for k, v in prefixed.items() if k.lower() in {f.name for f in fields(Settings)}}
    values.update(_from_mapping(prefixed, "environment"))
    values.update(_from_mapping({k: v for k, v in flags.items() if v is not None}, "command line"))
    return Settings(**values).check()


def load_secrets(settings: Settings) -> dict[str, Any]:
    """Secrets from ``secrets_file`` (JSON or TOML object). Never logged."""
    if not settings.secrets_file:
        return {}
    path = Path(settings.secrets_file)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text.decode())
        else:
            import msgspec

            data = msgspec.json.decode(text)
    except Exception:
        raise ConfigError(f"secrets file {path} is not a valid JSON/TOML object") from None
    if not isinstance(data, dict):
        raise ConfigError(f"secrets file {path} must hold an object of name -> value")
    return data
