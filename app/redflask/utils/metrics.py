"""Prometheus metrics of the app, correct across gunicorn's worker processes.

Off unless APP_METRICS_ENABLED is true; then ``GET /metrics`` serves, in Prometheus's text
format:

- ``redflask_http_requests_total{method, route, status}``: requests answered, by the
  route's template (``/api/v1/files/<int:file_id>``, never the raw path, so ids do not
  multiply the series; ``<unmatched>`` for paths no route knows);
- ``redflask_http_request_duration_seconds{method, route}``: their latency (histogram);
- ``redflask_http_requests_in_flight``: requests being handled now, summed over workers;
- ``redflask_dependency_errors_total{dependency}``: errors of the database (``mysql``) and
  of Redis (``redis``), from requests and from the readiness check;
- ``redflask_release_info{release, version}``: 1, the release and package version served.

Under gunicorn, prometheus_client's multiprocess mode adds up the workers' values: the
worker processes write them to files in PROMETHEUS_MULTIPROC_DIR, which must exist, empty,
before the app is imported (the flask_app role's bin/run-gunicorn makes and empties it; its
gunicorn config tells the library of each worker that exits). Without that variable the
values are this process's own (tests, a single process).

Only clients in APP_METRICS_ALLOW (networks; loopback by default) get the metrics; everyone
else gets 403. The client is the address nginx forwards for (ProxyFix trusts one hop), so
nginx in front should restrict the path to the same monitoring sources.
"""

from __future__ import annotations

import ipaddress
import os
import time

from flask import Flask, Response, current_app, g, has_app_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from redflask import __version__

EXTENSION = "redflask.metrics"
PATH = "/metrics"
UNMATCHED = "<unmatched>"
# Upper bounds (seconds) of the latency buckets: from a cached read to a slow upload.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The app's metric objects. In multiprocess mode their values live in the shared
    directory, whatever registry they are made in; the registry only serves one process."""

    def __init__(self, release_id: str) -> None:
        self.release_id = release_id
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "redflask_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "redflask_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "redflask_http_requests_in_flight",
            "HTTP requests being handled now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.dependency_errors = Counter(
            "redflask_dependency_errors_total",
            "Errors of the database (mysql) and of Redis (redis).",
            ("dependency",),
            registry=self.registry,
        )
        self.release = Gauge(
            "redflask_release_info",
            "The release and package version this app serves (always 1).",
            ("release", "version"),
            registry=self.registry,
            multiprocess_mode="max",
        )

    def render(self) -> bytes:
        # Set here, by the process that serves the scrape: a value the preloading master
        # set would not survive the fork (each worker starts its own files at zero).
        self.release.labels(self.release_id or "unknown", __version__).set(1)
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)


def _metrics() -> Metrics:
    return current_app.extensions[EXTENSION]


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _started() -> None:
    if request.path == PATH:
        return  # scrapes are not requests of the app
    g.metrics_started = time.perf_counter()
    _metrics().in_flight.inc()


def _answered(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        metrics, route = _metrics(), _route()
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def _left(_exc: BaseException | None) -> None:
    # Runs after every request, whatever happened in it.
    if g.pop("metrics_started", None) is not None:
        _metrics().in_flight.dec()


def count_dependency_error(dependency: str) -> None:
    """Count an error of ``mysql`` or ``redis``; a no-op when metrics are off."""
    if has_app_context() and EXTENSION in current_app.extensions:
        current_app.extensions[EXTENSION].dependency_errors.labels(dependency).inc()


def _allowed(
    address: str | None, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in network for network in networks)


def init_metrics(
    app: Flask, enabled: bool, release_id: str, allow: tuple[str, ...] = ("127.0.0.1/32",)
) -> None:
    """Register first (before the auth hook), so requests refused early are counted too."""
    if not enabled:
        return
    networks = tuple(ipaddress.ip_network(item) for item in allow)
    metrics = app.extensions[EXTENSION] = Metrics(release_id)
    app.before_request(_started)
    app.after_request(_answered)
    app.teardown_request(_left)

    @app.get(PATH)
    def prometheus_metrics() -> Response:
        if not _allowed(request.remote_addr, networks):
            from redflask.utils.errors import error_response  # errors imports this module

            return error_response(403, "forbidden", "metrics are for the monitoring hosts only")
        return Response(metrics.render(), mimetype=CONTENT_TYPE_LATEST)
