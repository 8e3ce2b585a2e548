"""Start-up validation: every bad or missing variable is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup

from redflask import create_app
from redflask.config import ConfigError, load_settings, resolve_settings

BASE = {
    "APP_ENV": "production",
    "APP_SECRET_KEY": "s" * 40,
    "APP_DATABASE_URL": "mysql+pymysql://app:pw@db.internal:3306/app?charset=utf8mb4",
    "APP_REDIS_URL": "redis://app:pw@cache.internal:6379/0",
    "APP_UPLOAD_DIR": "/srv/app/shared/uploads",
}


def test_production_settings_and_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.env == "production"
    assert settings.upload_backend == "filesystem"
    assert settings.upload_dir == Path("/srv/app/shared/uploads")
    assert settings.max_content_length == 16 * 1024 * 1024
    assert settings.cors_origins == ()
    assert settings.token_ttl == 3600
    assert "pdf" in settings.allowed_extensions
    assert (settings.upload_quota_files, settings.upload_quota_mb) == (1000, 1024)
    assert settings.upload_quota_bytes == 1024 * 1024 * 1024
    assert settings.upload_shared_read is False
    assert settings.proxy_forwards_host is False
    assert (settings.login_rate_limit_ip, settings.login_rate_window) == (20, 300)
    assert (settings.login_free_failures, settings.login_delay_base) == (5, 1)
    assert settings.login_delay_max == 900
    # argon2id at or above OWASP's minimum (m=19 MiB, t=2, p=1).
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (3, 65536)
    assert settings.argon2_parallelism == 4
    assert settings.password_hash_threads == 0  # one per CPU


def test_lists_and_numbers_are_parsed() -> None:
    settings = load_settings(
        {
            **BASE,
            "APP_ALLOWED_EXTENSIONS": "TXT, .png ,csv",
            "APP_CORS_ORIGINS": "https://a.example, http://localhost:3000",
            "APP_MAX_UPLOAD_MB": "2",
            "APP_LOGIN_FREE_FAILURES": "3",
            "APP_LOGIN_DELAY_BASE": "2",
            "APP_LOGIN_DELAY_MAX": "60",
            "APP_UPLOAD_QUOTA_FILES": "10",
            "APP_UPLOAD_QUOTA_MB": "5",
            "APP_UPLOAD_SHARED_READ": "yes",
            "APP_PROXY_FORWARDS_HOST": "TRUE",
            "APP_ARGON2_TIME_COST": "2",
            "APP_ARGON2_MEMORY_KIB": "19456",
            "APP_ARGON2_PARALLELISM": "1",
            "APP_PASSWORD_HASH_THREADS": "3",
            "APP_RELEASE_ID": " 20261125T0100 ",
            "APP_LOG_LEVEL": "debug",
            "APP_UPLOAD_BACKEND": " Database ",
        }
    )
    assert settings.upload_backend == "database"
    assert settings.allowed_extensions == frozenset({"txt", "png", "csv"})
    assert settings.cors_origins == ("https://a.example", "http://localhost:3000")
    assert settings.max_content_length == 2 * 1024 * 1024
    assert (settings.login_free_failures, settings.login_delay_base) == (3, 2)
    assert settings.login_delay_max == 60
    assert (settings.upload_quota_files, settings.upload_quota_bytes) == (10, 5 * 1024 * 1024)
    assert settings.upload_shared_read is True and settings.proxy_forwards_host is True
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (2, 19456)
    assert (settings.argon2_parallelism, settings.password_hash_threads) == (1, 3)
    assert settings.release_id == "20261125T0100"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "origins",
    [
        "https://*",
        "https://*.example.com",
        "*.example.com",
        "https://a.example,*",
        "https://a.example/",
        "https://a.example?x=1",
        "https://a.example#top",
        "https://a.example:",
        "https://a.example:99999",
        "https://a.example:0",
        "https://user@a.example",
        "ftp://a.example",
        "a.example",
        "null",
        "https://a_b.example",
        "https://-a.example",
        "https://a.example.",
        "https://[::1",
        "https://[not-ipv6]",
        "https://a.(example|evil).com",
        "https://a.example$",
    ],
)
def test_cors_origins_must_be_exact(origins: str) -> None:
    with pytest.raises(ConfigError, match="APP_CORS_ORIGINS"):
        load_settings({**BASE, "APP_CORS_ORIGINS": origins})


@pytest.mark.parametrize(
    ("origins", "expected"),
    [
        ("*", ("*",)),
        (" * ", ("*",)),
        ("HTTPS://Admin.Example.COM", ("https://admin.example.com",)),
        ("https://a.example:443,http://a.example:80", ("https://a.example", "http://a.example")),
        ("https://a.example:8443, https://a.example:8443", ("https://a.example:8443",)),
        ("http://127.0.0.1:5173", ("http://127.0.0.1:5173",)),
        ("http://[0:0::1]:3000", ("http://[::1]:3000",)),
    ],
)
def test_cors_origins_are_normalised_as_browsers_send_them(origins, expected) -> None:
    assert load_settings({**BASE, "APP_CORS_ORIGINS": origins}).cors_origins == expected


def test_redis_acl_username_url_is_accepted() -> None:
    assert load_settings({**BASE, "APP_REDIS_URL": "redis://appuser:pw@cache/0"}).redis_url


def test_non_production_generates_a_secret_key() -> None:
    env = {**BASE, "APP_ENV": "development"}
    del env["APP_SECRET_KEY"]
    assert len(load_settings(env).secret_key) >= 32


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"APP_SECRET_KEY": ""}, "APP_SECRET_KEY"),
        ({"APP_SECRET_KEY": "short"}, "APP_SECRET_KEY"),
        ({"APP_DATABASE_URL": ""}, "APP_DATABASE_URL"),
        ({"APP_DATABASE_URL": "sqlite:///x.db"}, "APP_DATABASE_URL"),
        ({"APP_REDIS_URL": ""}, "APP_REDIS_URL"),
        ({"APP_REDIS_URL": "http://cache:6379"}, "APP_REDIS_URL"),
        ({"APP_UPLOAD_DIR": ""}, "APP_UPLOAD_DIR"),
        ({"APP_UPLOAD_DIR": "uploads"}, "APP_UPLOAD_DIR"),
        ({"APP_UPLOAD_BACKEND": "s3"}, "APP_UPLOAD_BACKEND"),
        ({"APP_UPLOAD_BACKEND": "filesystem", "APP_UPLOAD_DIR": ""}, "APP_UPLOAD_DIR"),
        # Not needed by the database backend, but a bad value is still refused.
        ({"APP_UPLOAD_BACKEND": "database", "APP_UPLOAD_DIR": "uploads"}, "APP_UPLOAD_DIR"),
        ({"APP_MAX_UPLOAD_MB": "ten"}, "APP_MAX_UPLOAD_MB"),
        ({"APP_MAX_UPLOAD_MB": "0"}, "APP_MAX_UPLOAD_MB"),
        ({"APP_TOKEN_TTL": "5"}, "APP_TOKEN_TTL"),
        ({"APP_ALLOWED_EXTENSIONS": "txt,../x"}, "APP_ALLOWED_EXTENSIONS"),
        ({"APP_CORS_ORIGINS": "https://a.example/path"}, "APP_CORS_ORIGINS"),
        ({"APP_UPLOAD_QUOTA_FILES": "0"}, "APP_UPLOAD_QUOTA_FILES"),
        ({"APP_UPLOAD_QUOTA_MB": "lots"}, "APP_UPLOAD_QUOTA_MB"),
        ({"APP_UPLOAD_SHARED_READ": "maybe"}, "APP_UPLOAD_SHARED_READ"),
        ({"APP_PROXY_FORWARDS_HOST": "2"}, "APP_PROXY_FORWARDS_HOST"),
        ({"APP_LOGIN_FREE_FAILURES": "0"}, "APP_LOGIN_FREE_FAILURES"),
        ({"APP_LOGIN_DELAY_BASE": "0"}, "APP_LOGIN_DELAY_BASE"),
        ({"APP_LOGIN_DELAY_BASE": "10", "APP_LOGIN_DELAY_MAX": "5"}, "APP_LOGIN_DELAY_MAX"),
        ({"APP_LOGIN_RATE_LIMIT_PER_USER": "5"}, "APP_LOGIN_FREE_FAILURES"),
        ({"APP_ARGON2_TIME_COST": "0"}, "APP_ARGON2_TIME_COST"),
        ({"APP_ARGON2_MEMORY_KIB": "4096"}, "APP_ARGON2_MEMORY_KIB"),
        # Below OWASP's minimum for the time cost.
        ({"APP_ARGON2_TIME_COST": "2", "APP_ARGON2_MEMORY_KIB": "19455"}, "APP_ARGON2_MEMORY_KIB"),
        ({"APP_ARGON2_TIME_COST": "1", "APP_ARGON2_MEMORY_KIB": "46000"}, "APP_ARGON2_MEMORY_KIB"),
        ({"APP_ARGON2_PARALLELISM": "0"}, "APP_ARGON2_PARALLELISM"),
        ({"APP_PASSWORD_HASH_THREADS": "-1"}, "APP_PASSWORD_HASH_THREADS"),
        ({"APP_LOG_LEVEL": "LOUD"}, "APP_LOG_LEVEL"),
        ({"APP_REDIS_PREFIX": "bad prefix"}, "APP_REDIS_PREFIX"),
    ],
)
def test_bad_settings_name_the_variable(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({**BASE, **change})


def test_missing_variable_is_named() -> None:
    env = dict(BASE)
    del env["APP_DATABASE_URL"]
    with pytest.raises(ConfigError, match="APP_DATABASE_URL is required"):
        load_settings(env)


def test_resolve_accepts_settings_and_rejects_unknown_overrides(monkeypatch) -> None:
    settings = load_settings(BASE)
    assert resolve_settings(settings) is settings
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    assert resolve_settings({"token_ttl": 120}).token_ttl == 120
    with pytest.raises(ConfigError, match="no_such_setting"):
        resolve_settings({"no_such_setting": 1})


def test_debug_mode_is_refused_in_production(monkeypatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug mode"):
        create_app(load_settings(BASE))


@pytest.fixture
def flask_cli(monkeypatch) -> FlaskGroup:
    # The flask CLI writes FLASK_DEBUG and FLASK_RUN_FROM_CLI into os.environ: undo it after.
    monkeypatch.setenv("FLASK_DEBUG", "0")
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")
    return FlaskGroup(create_app=lambda: create_app(load_settings(BASE)))


@pytest.mark.parametrize("args", [["run"], ["run", "--debug"]])
def test_flask_run_is_refused_in_production(flask_cli, args) -> None:
    result = CliRunner().invoke(flask_cli, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)


def test_other_cli_commands_work_in_production(flask_cli) -> None:
    result = CliRunner().invoke(flask_cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/api/v1/users" in result.output


def test_development_server_is_refused_in_production() -> None:
    app = create_app(load_settings(BASE))
    with pytest.raises(ConfigError, match="development server"):
        app.run()


def test_wsgi_module_builds_the_app_from_the_environment(app_env, monkeypatch, tmp_path) -> None:
    import importlib
    import sys

    for key, value in {**app_env, "APP_UPLOAD_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delitem(sys.modules, "redflask.wsgi", raising=False)
    wsgi = importlib.import_module("redflask.wsgi")
    assert wsgi.app.test_client().get("/healthz").status_code == 200
    monkeypatch.delitem(sys.modules, "redflask.wsgi")
