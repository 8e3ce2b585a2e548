"""Dependency checks for readiness: a failure is reported by name, never raised."""

from __future__ import annotations

import logging

from redflask.utils.db import db
from redflask.utils.metrics import count_dependency_error
from redflask.utils.redis_store import redis_store

log = logging.getLogger("redflask.health")


def check_dependencies() -> dict[str, str]:
    results: dict[str, str] = {}
    try:
        db.ping()
        results["database"] = "ok"
    except Exception:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness: database check failed", exc_info=True)
        count_dependency_error("mysql")
        results["database"] = "unavailable"
    try:
        redis_store.r.ping()
        results["redis"] = "ok"
    except Exception:
        log.warning("readiness: redis check failed", exc_info=True)
        count_dependency_error("redis")
        results["redis"] = "unavailable"
    return results
