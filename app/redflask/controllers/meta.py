"""Greeting, liveness and readiness: the endpoints deploys and the load balancer poll."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from redflask import __version__
from redflask.config import get_settings
from redflask.controllers.schemas.common import COMMON_RESPONSES, ErrorResponse
from redflask.controllers.schemas.meta import Greeting, Liveness, Readiness
from redflask.services.health import check_dependencies
from redflask.utils.errors import error_response

bp = APIBlueprint("meta", __name__, abp_tags=[Tag(name="meta")], abp_responses=COMMON_RESPONSES)


@bp.get("/", responses={200: Greeting})
def greeting():
    """Greeting with the package version and the release this worker runs."""
    return Greeting(
        name="redflask",
        message="Hello from redflask",
        version=__version__,
        release_id=get_settings().release_id or None,
    ).model_dump()


@bp.get("/healthz", responses={200: Liveness})
def healthz():
    """Liveness: the process answers. Checks no dependency on purpose."""
    return {"status": "ok"}


@bp.get("/readyz", responses={200: Readiness, 503: ErrorResponse})
def readyz():
    """Readiness: the database and Redis are reachable; 503 names the ones that are not."""
    checks = check_dependencies()
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        return error_response(
            503, "not_ready", f"unavailable: {', '.join(failed)}", details={"checks": checks}
        )
    return {"status": "ready", "checks": checks}
