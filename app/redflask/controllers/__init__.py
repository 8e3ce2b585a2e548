"""HTTP layer. Every controller blueprint is registered here and only here."""

from __future__ import annotations

from flask_openapi3 import OpenAPI

from redflask.controllers import auth, files, meta, users
from redflask.controllers.security import enforce_auth


def register_controllers(app: OpenAPI) -> None:
    app.before_request(enforce_auth)
    for blueprint in (meta.bp, auth.bp, users.bp, files.bp):
        app.register_api(blueprint)
