"""Settings: one frozen object from defaults, config file, environment and flags."""

from __future__ import annotations

import dataclasses

import pytest

from flunq.errors import ConfigError
from flunq.settings import ROLES, Settings, load_secrets, load_settings


def test_defaults_run_every_role_on_the_embedded_store() -> None:
    s = load_settings({})
    assert s.roles == ROLES
    assert s.store_url.startswith("sqlite:///") and s.store_url.endswith("/flunq.db")
    assert s.bus == "memory://"
    assert (s.host, s.port) == ("127.0.0.1", 8080)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}).port = 1  # type: ignore[misc]


def test_environment_overrides_defaults_and_flags_override_the_environment() -> None:
    env = {"FLUNQ_PORT": "9000", "FLUNQ_EXECUTOR_CONCURRENCY": "8", "FLUNQ_LOG_JSON": "true"}
    s = load_settings(env)
    assert (s.port, s.executor_concurrency, s.log_json) == (9000, 8, True)
    assert load_settings(env, port=9100).port == 9100


def test_lists_come_from_comma_separated_text() -> None:
    s = load_settings({"FLUNQ_ALLOW_RUN": "shell, script"})
    assert s.allow_run == ("shell", "script")


def test_seed_variables_pick_backends_when_no_url_is_given() -> None:
    s = load_settings({"DB_TYPE": "redis", "EVENT_STREAM_TYPE": "redis", "REDIS_HOST": "cache", "REDIS_PORT": "7000"})
    assert s.store == "redis://cache:7000" and s.bus == "redis://cache:7000"
    explicit = load_settings({"DB_TYPE": "redis", "FLUNQ_STORE": "memory://"})
    assert explicit.store == "memory://"


@pytest.mark.parametrize("env", [{"DB_TYPE": "oracle"}, {"EVENT_STREAM_TYPE": "carrier-pigeon"}])
def test_unknown_seed_backends_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        load_settings(env)


def test_a_split_deployment_on_the_memory_bus_is_refused() -> None:
    with pytest.raises(ConfigError, match="shared bus"):
        load_settings({}, roles="worker,timer")
    ok = load_settings({}, roles="worker,timer", bus="redis://localhost", store="redis://localhost")
    assert ok.roles == ("worker", "timer")


def test_unknown_roles_and_run_kinds_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown role"):
        load_settings({}, roles="api,chef")
    with pytest.raises(ConfigError, match="allow_run"):
        load_settings({"FLUNQ_ALLOW_RUN": "rocket"})


def test_bad_numbers_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings({"FLUNQ_PORT": "eighty"})


def test_a_config_file_is_read_and_unknown_keys_are_refused(tmp_path) -> None:
    config = tmp_path / "flunq.toml"
    config.write_text('[flunq]\nport = 7001\nroles = ["api", "worker", "executor", "timer"]\n')
    assert load_settings({"FLUNQ_CONFIG": str(config)}).port == 7001
    config.write_text("[flunq]\nflavour = 'vanilla'\n")
    with pytest.raises(ConfigError, match="unknown setting 'flavour'"):
        load_settings({"FLUNQ_CONFIG": str(config)})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings({"FLUNQ_CONFIG": str(tmp_path / "missing.toml")})


def test_secrets_come_from_a_file(tmp_path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"apiKey": "s3cr3t", "mySecret": {"username": "u", "password": "p"}}')
    assert load_secrets(Settings(secrets_file=str(path)))["mySecret"] == {"username": "u", "password": "p"}
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold an object"):
        load_secrets(Settings(secrets_file=str(path)))
