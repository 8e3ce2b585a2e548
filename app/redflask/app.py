"""The application factory: settings, extensions, preloaded resources, controllers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import click
from flask import request
from flask_cors import CORS
from flask_openapi3 import Info, OpenAPI
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from redflask import __version__
from redflask.cli import register_cli
from redflask.config import SETTINGS_EXTENSION, ConfigError, Settings, resolve_settings
from redflask.controllers import register_controllers
from redflask.controllers.schemas.common import ErrorResponse
from redflask.resources import load_resources
from redflask.services.files import init_files
from redflask.utils.background import init_background
from redflask.utils.db import db
from redflask.utils.errors import handle_validation_error, register_error_handlers
from redflask.utils.logging import configure_logging
from redflask.utils.metrics import init_metrics
from redflask.utils.passwords import init_passwords
from redflask.utils.redis_store import redis_store
from redflask.utils.request_id import init_request_id
from redflask.utils.security_headers import init_security_headers

API_PREFIX = "/api/v1"


class RedFlask(OpenAPI):
    def run(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The werkzeug server is for development only; refuse it with production settings."""
        settings: Settings = self.extensions[SETTINGS_EXTENSION]
        if settings.env == "production":
            raise ConfigError("refusing to run the development server with APP_ENV=production")
        super().run(*args, **kwargs)


def _reject_malformed_json() -> None:
    # flask-openapi3 reads bodies with silent=True, which would turn broken JSON into a
    # confusing "input should be an object" 422; report it as the 400 it is.
    if request.is_json and request.content_length:
        try:
            request.get_json()
        except BadRequest:
            raise BadRequest("the request body is not valid JSON") from None


def _refuse_development_server(app: OpenAPI, settings: Settings) -> None:
    """Production is served by gunicorn only: no debugger, no `flask run`."""
    if settings.env != "production":
        return
    if app.debug:
        raise ConfigError("debug mode is not allowed with APP_ENV=production")
    context = click.get_current_context(silent=True)
    if context is not None and context.command.name == "run":
        raise ConfigError("refusing to run the development server with APP_ENV=production")


def _init_cors(app: OpenAPI, settings: Settings) -> None:
    """CORS for the configured origins, matched exactly, never with credentials: the API
    authenticates with bearer tokens a script sets, not with cookies a browser adds."""
    wildcard = settings.cors_origins == ("*",)
    # Anchored, escaped patterns: flask-cors would read regex characters in a plain string
    # (IPv6 brackets) as a pattern, and matches patterns as prefixes.
    origins: Any = (
        "*"
        if wildcard
        else [
            re.compile(re.escape(origin) + r"\Z", re.IGNORECASE) for origin in settings.cors_origins
        ]
    )
    CORS(
        app,
        origins=origins,
        supports_credentials=False,
        send_wildcard=wildcard,
        expose_headers=["X-Request-ID", "Retry-After", "Location"],
    )


def create_app(config: Settings | Mapping[str, Any] | None = None) -> RedFlask:
    """Build the app. config: a Settings, a mapping of APP_* variables and/or Settings
    field overrides, or None to read everything from the environment."""
    settings = resolve_settings(config)
    configure_logging(settings.log_level)

    app = RedFlask(
        __name__,
        info=Info(title="redflask", version=__version__),
        security_schemes={"bearerAuth": {"type": "http", "scheme": "bearer"}},
        validation_error_status=422,
        validation_error_model=ErrorResponse,
        validation_error_callback=handle_validation_error,
        doc_prefix=API_PREFIX,
        doc_url="/openapi.json",
    )
    _refuse_development_server(app, settings)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.env == "testing",
    )
    # Swagger UI would send the document's URL to validator.swagger.io for a badge.
    app.config["SWAGGER_CONFIG"] = {"validatorUrl": "none"}
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep "error" fields in order
    app.extensions[SETTINGS_EXTENSION] = settings

    # Exactly one proxy (nginx) sits in front: trust one hop of X-Forwarded-For and
    # -Proto. X-Forwarded-Host only when the proxy sets it (APP_PROXY_FORWARDS_HOST):
    # otherwise the client's own value would replace Host inside the app.
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, x_for=1, x_proto=1, x_host=1 if settings.proxy_forwards_host else 0
    )
    _init_cors(app, settings)

    # First: every answer is counted, those of the hooks below included.
    init_metrics(app, settings.metrics_enabled, settings.release_id, settings.metrics_allow)
    init_request_id(app)
    init_security_headers(app)
    register_error_handlers(app)

    db.init_app(app, settings.database_url, settings.db_pool_size, settings.db_max_overflow)
    redis_store.init_app(app, settings.redis_url, settings.redis_prefix)
    init_passwords(
        app,
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        settings.argon2_parallelism,
        settings.password_hash_threads,
    )
    init_background(app, settings.background_workers, settings.background_queue)
    init_files(app, settings)
    load_resources(app)

    register_controllers(app)  # its auth hook runs before the JSON check below
    app.before_request(_reject_malformed_json)
    register_cli(app)
    return app
