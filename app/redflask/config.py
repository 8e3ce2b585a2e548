"""Settings read from APP_* environment variables and validated once at start-up.

Every problem is reported with the name of the variable at fault, so a bad env file
rendered by the deploy role fails the boot with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

ENVIRONMENTS = ("production", "development", "testing")
MIN_SECRET_KEY_LENGTH = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# filesystem: flat files in APP_UPLOAD_DIR (one host, or a mount shared by every host);
# database: content in MySQL, so every app host behind the load balancer sees every upload.
UPLOAD_BACKENDS = ("filesystem", "database")
DEFAULT_EXTENSIONS = frozenset({"txt", "csv", "json", "pdf", "png", "jpg", "jpeg", "gif", "zip"})
_EXTENSION_RE = re.compile(r"^[a-z0-9]{1,16}$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A DNS name (labels of letters, digits and inner hyphens) or a dotted IPv4 address; IPv6
# literals are checked with ipaddress.
_HOST_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# OWASP's argon2id minimums: the least memory (KiB) acceptable for each time cost; five
# passes or more need 7 MiB.
ARGON2_MIN_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216}
ARGON2_MIN_MEMORY_KIB_FROM_5 = 7168
# Variables that were replaced: naming them stops the boot instead of being ignored.
_REPLACED = {
    "APP_LOGIN_RATE_LIMIT_PER_USER": (
        "APP_LOGIN_FREE_FAILURES (failures per account and client address before delays)"
    ),
}


class ConfigError(RuntimeError):
    """Raised when the environment does not describe a usable configuration."""


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    secret_key: str = ""
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "redflask:"
    upload_backend: str = "filesystem"
    # None only with the database backend, which does not need a directory.
    upload_dir: Path | None = None
    max_upload_mb: int = 16
    allowed_extensions: frozenset[str] = DEFAULT_EXTENSIONS
    cors_origins: tuple[str, ...] = ()
    token_ttl: int = 3600
    # Per upload owner: how many files and how many bytes they may keep.
    upload_quota_files: int = 1000
    upload_quota_mb: int = 1024
    # True: every authenticated user may list and download every file (not change them).
    upload_shared_read: bool = False
    login_rate_limit_ip: int = 20
    login_rate_window: int = 300
    # Failed logins (or current-password checks) per account and client address before
    # each further attempt must wait; the wait doubles per failure, up to the maximum.
    login_free_failures: int = 5
    login_delay_base: int = 1
    login_delay_max: int = 900
    # The proxy sets X-Forwarded-Host (nginx, as the roles configure it, does not).
    proxy_forwards_host: bool = False
    release_id: str = ""
    # GET /metrics (redflask.utils.metrics), answered only to clients in these networks
    # (the client nginx forwards for, one proxy hop trusted); 403 for everyone else.
    metrics_enabled: bool = False
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    log_level: str = "INFO"
    db_pool_size: int = 5
    db_max_overflow: int = 10
    background_workers: int = 4
    background_queue: int = 100
    # argon2id cost; the defaults are argon2-cffi's RFC 9106 low-memory profile, above
    # OWASP's minimum (m=19 MiB, t=2, p=1).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Hashes computed at once per worker process, off the gevent loop; 0: one per CPU.
    password_hash_threads: int = 0

    @property
    def max_content_length(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def upload_quota_bytes(self) -> int:
        return self.upload_quota_mb * 1024 * 1024

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of networks (addresses or CIDRs), normalized."""
    items = _list(env, name) or default
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
    except ValueError as exc:
        raise ConfigError(f"{name} must list IP networks (a.b.c.d/n or addresses): {exc}") from None


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required but not set")
    return value


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{name} must be a URL with scheme {' or '.join(schemes)} and a host")
    return url


def _extensions(env: Mapping[str, str]) -> frozenset[str]:
    items = _list(env, "APP_ALLOWED_EXTENSIONS")
    if not items:
        return DEFAULT_EXTENSIONS
    cleaned = {item.lower().lstrip(".") for item in items}
    bad = sorted(item for item in cleaned if not _EXTENSION_RE.match(item))
    if bad:
        raise ConfigError(f"APP_ALLOWED_EXTENSIONS has invalid entries: {', '.join(bad)}")
    return frozenset(cleaned)


def _origin(origin: str) -> str:
    """One APP_CORS_ORIGINS entry, exactly scheme://host[:port], normalised the way
    browsers send the Origin header (lower case, no default port)."""
    problem = (
        "APP_CORS_ORIGINS entries must be exactly scheme://host[:port] (or one single *), "
        f"got {origin!r}"
    )
    # flask-cors would treat an entry with regex characters as a pattern and match it as a
    # prefix (https://* allows every https site): only plain origins pass.
    if any(char in origin for char in "*?\\^$()|+{} @%"):
        raise ConfigError(problem)
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise ConfigError(problem) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or origin.endswith(("?", "#", ":"))
    ):
        raise ConfigError(problem)
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    # A bracketed host must be an IPv6 address (Python 3.11's urlsplit checks that, 3.10's
    # does not, and nodes run 3.10).
    if "[" in parts.netloc or ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host.strip('[]')).compressed}]"
        except ValueError:
            raise ConfigError(problem) from None
    elif not _HOST_RE.match(host):
        raise ConfigError(problem)
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(problem)
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    origins = _list(env, "APP_CORS_ORIGINS")
    if "*" in origins:
        # Any origin, and (credentials are never allowed) no cookies or auth sent by the
        # browser on its own: only the bearer token a script adds.
        if len(origins) > 1:
            raise ConfigError("APP_CORS_ORIGINS: * must be the only entry")
        return origins
    normalised: list[str] = []
    for origin in origins:
        value = _origin(origin)
        if value not in normalised:
            normalised.append(value)
    return tuple(normalised)


def _argon2(env: Mapping[str, str]) -> tuple[int, int, int]:
    time_cost = _int(env, "APP_ARGON2_TIME_COST", 3, 1, 100)
    memory_kib = _int(env, "APP_ARGON2_MEMORY_KIB", 65536, 7168, 4 * 1024 * 1024)
    parallelism = _int(env, "APP_ARGON2_PARALLELISM", 4, 1, 64)
    minimum = ARGON2_MIN_MEMORY_KIB.get(time_cost, ARGON2_MIN_MEMORY_KIB_FROM_5)
    if memory_kib < minimum:
        raise ConfigError(
            f"APP_ARGON2_MEMORY_KIB must be at least {minimum} with APP_ARGON2_TIME_COST="
            f"{time_cost} (OWASP's argon2id minimum), got {memory_kib}"
        )
    return time_cost, memory_kib, parallelism


def _upload_dir(env: Mapping[str, str], required: bool) -> Path | None:
    """APP_UPLOAD_DIR: required by the filesystem backend, checked whenever it is set."""
    if not required and not env.get("APP_UPLOAD_DIR", "").strip():
        return None
    upload_dir = Path(_require(env, "APP_UPLOAD_DIR"))
    if not upload_dir.is_absolute():
        raise ConfigError("APP_UPLOAD_DIR must be an absolute path")
    return upload_dir


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from a mapping of environment variables (os.environ by default)."""
    env = os.environ if env is None else env
    for name, replacement in _REPLACED.items():
        if env.get(name, "").strip():
            raise ConfigError(f"{name} is no longer read; use {replacement}")
    app_env = env.get("APP_ENV", "production").strip() or "production"
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")

    secret_key = env.get("APP_SECRET_KEY", "")
    if app_env == "production":
        if not secret_key:
            raise ConfigError("APP_SECRET_KEY is required when APP_ENV=production")
        if len(secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"APP_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
    elif not secret_key:
        # Outside production a per-process random key is fine: nothing signed must survive.
        secret_key = os.urandom(32).hex()

    log_level = env.get("APP_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"APP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

    redis_prefix = env.get("APP_REDIS_PREFIX", "redflask:").strip() or "redflask:"
    if not _PREFIX_RE.match(redis_prefix):
        raise ConfigError("APP_REDIS_PREFIX may only contain letters, digits and _.:-")

    upload_backend = env.get("APP_UPLOAD_BACKEND", "filesystem").strip().lower() or "filesystem"
    if upload_backend not in UPLOAD_BACKENDS:
        choices = ", ".join(UPLOAD_BACKENDS)
        raise ConfigError(f"APP_UPLOAD_BACKEND must be one of {choices}, got {upload_backend!r}")
    upload_dir = _upload_dir(env, required=upload_backend == "filesystem")
    time_cost, memory_kib, parallelism = _argon2(env)
    delay_base = _int(env, "APP_LOGIN_DELAY_BASE", 1, 1, 3600)
    delay_max = _int(env, "APP_LOGIN_DELAY_MAX", 900, 1, 86400)
    if delay_max < delay_base:
        raise ConfigError("APP_LOGIN_DELAY_MAX must not be below APP_LOGIN_DELAY_BASE")

    return Settings(
        env=app_env,
        secret_key=secret_key,
        database_url=_check_url(
            "APP_DATABASE_URL", _require(env, "APP_DATABASE_URL"), ("mysql+pymysql",)
        ),
        redis_url=_check_url("APP_REDIS_URL", _require(env, "APP_REDIS_URL"), ("redis", "rediss")),
        redis_prefix=redis_prefix,
        upload_backend=upload_backend,
        upload_dir=upload_dir,
        max_upload_mb=_int(env, "APP_MAX_UPLOAD_MB", 16, 1, 4096),
        allowed_extensions=_extensions(env),
        upload_quota_files=_int(env, "APP_UPLOAD_QUOTA_FILES", 1000, 1, 10**7),
        upload_quota_mb=_int(env, "APP_UPLOAD_QUOTA_MB", 1024, 1, 10**8),
        upload_shared_read=_bool(env, "APP_UPLOAD_SHARED_READ", False),
        cors_origins=_origins(env),
        token_ttl=_int(env, "APP_TOKEN_TTL", 3600, 60, 30 * 86400),
        login_rate_limit_ip=_int(env, "APP_LOGIN_RATE_LIMIT_PER_IP", 20, 1, 100000),
        login_rate_window=_int(env, "APP_LOGIN_RATE_WINDOW", 300, 1, 86400),
        login_free_failures=_int(env, "APP_LOGIN_FREE_FAILURES", 5, 1, 100000),
        login_delay_base=delay_base,
        login_delay_max=delay_max,
        proxy_forwards_host=_bool(env, "APP_PROXY_FORWARDS_HOST", False),
        release_id=env.get("APP_RELEASE_ID", "").strip(),
        metrics_enabled=_bool(env, "APP_METRICS_ENABLED", False),
        metrics_allow=_networks(env, "APP_METRICS_ALLOW", ("127.0.0.1/32", "::1/128")),
        log_level=log_level,
        db_pool_size=_int(env, "APP_DB_POOL_SIZE", 5, 1, 200),
        db_max_overflow=_int(env, "APP_DB_MAX_OVERFLOW", 10, 0, 200),
        background_workers=_int(env, "APP_BACKGROUND_WORKERS", 4, 1, 64),
        background_queue=_int(env, "APP_BACKGROUND_QUEUE", 100, 1, 100000),
        argon2_time_cost=time_cost,
        argon2_memory_kib=memory_kib,
        argon2_parallelism=parallelism,
        password_hash_threads=_int(env, "APP_PASSWORD_HASH_THREADS", 0, 0, 256),
    )


def resolve_settings(config: Settings | Mapping[str, Any] | None) -> Settings:
    """Accept what create_app() was given: nothing, a Settings, or overrides for it."""
    if isinstance(config, Settings):
        return config
    overrides = dict(config or {})
    env_overrides = {key: overrides.pop(key) for key in list(overrides) if key.startswith("APP_")}
    base = load_settings({**os.environ, **env_overrides}) if env_overrides else load_settings()
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown settings passed to create_app: {', '.join(unknown)}")
    return base.with_overrides(**overrides)


SETTINGS_EXTENSION = "redflask.settings"


def get_settings() -> Settings:
    """The Settings of the app handling the current request or CLI command."""
    return current_app.extensions[SETTINGS_EXTENSION]
