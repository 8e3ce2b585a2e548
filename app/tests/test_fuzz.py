"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation is called in-process over WSGI as an admin with generated valid and
invalid inputs; any 5xx, undocumented status, wrong content type or response that does
not match its schema fails the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from redflask.models import User
from redflask.services import tokens
from redflask.utils.db import db
from tests.conftest import ADMIN_PASSWORD, add_user, bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzz_app(make_app):
    # Login throttling would turn most generated logins (and current-password checks) into
    # 429s: lift it for the fuzz run.
    app = make_app(login_rate_limit_ip=10**5, login_free_failures=10**5)
    return app


@pytest.fixture
def api_schema(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    # Every call carries a valid admin token (below), so mutating the Authorization header
    # only produces false "invalid request accepted" reports. Extra query parameters are
    # off for the same reason: one whose name is empty vanishes from the URL on the way.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, fuzz_app) -> None:
    case.call_and_validate(headers=bearer(_admin_token(fuzz_app)), checks=CHECKS)


def _admin_token(app) -> str:
    """A fresh token of an active admin for every example.

    Generated calls may log out, ban, demote or (once another admin exists) delete the
    admin; restoring it keeps the run exploring authorised paths instead of 401s.
    """
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "fuzz-admin"))
        if admin is None:
            admin_id = add_user(app, "fuzz-admin", ADMIN_PASSWORD, role="admin")
        else:
            admin.role, admin.banned = "admin", False
            db.session.commit()
            admin_id = admin.id
        return tokens.issue(admin_id, 600)
