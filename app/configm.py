"""gunicorn configuration for redflask (the seed's configm.py).

    gunicorn -c configm.py redflask.wsgi:app

Every setting below can be overridden by an environment variable named GUNICORN_<SETTING>
(GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_WORKER_CLASS, ...), which is how the deploy role
templates it. Check a rendered file with `gunicorn --check-config -c configm.py redflask.wsgi:app`.
"""

import multiprocessing
import os


def _env(name, default):
    return os.environ.get("GUNICORN_" + name.upper(), default)


def _env_int(name, default):
    raw = _env(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"GUNICORN_{name.upper()} must be an integer, got {raw!r}") from None


def _env_bool(name, default):
    raw = _env(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"GUNICORN_{name.upper()} must be true or false, got {raw!r}")


# --- worker model ------------------------------------------------------------------
# gevent (the seed's choice) waits on the database and Redis without holding a worker;
# gthread and sync remain selectable. meinheld is not offered: it does not build on 3.10+.
worker_class = _env("worker_class", "gevent")
if worker_class not in ("gevent", "gthread", "sync"):
    raise SystemExit(f"GUNICORN_WORKER_CLASS must be gevent, gthread or sync, got {worker_class!r}")

if worker_class == "gevent":
    # With preload_app the app (socket, ssl, threading users) is imported in the master,
    # before the gevent worker would patch. Patch here, before anything else loads it.
    from gevent import monkey

    monkey.patch_all()

# 2 x CPU + 1 is gunicorn's rule of thumb; capped so a big host does not exhaust MySQL.
workers = _env_int("workers", min(multiprocessing.cpu_count() * 2 + 1, 12))
# Concurrent clients per gevent worker.
worker_connections = _env_int("worker_connections", 1000)
# Threads per worker, for gthread. Kept at 1 otherwise: gunicorn silently turns a sync
# worker with threads > 1 into gthread.
threads = _env_int("threads", 4 if worker_class == "gthread" else 1)

# --- socket ------------------------------------------------------------------------
bind = _env("bind", "127.0.0.1:8000")
backlog = _env_int("backlog", 2048)

# --- timeouts ----------------------------------------------------------------------
timeout = _env_int("timeout", 30)
# Must stay below supervisor's stopwaitsecs so a stop drains instead of killing requests.
graceful_timeout = _env_int("graceful_timeout", 30)
# Longer than nginx's upstream keepalive_timeout, so nginx closes idle connections first.
keepalive = _env_int("keepalive", 75)

# --- worker recycling --------------------------------------------------------------
# Restart a worker after this many requests (jittered so they do not restart together).
max_requests = _env_int("max_requests", 2000)
max_requests_jitter = _env_int("max_requests_jitter", 200)

# --- process -----------------------------------------------------------------------
# Load the app once in the master: resources are read once and shared copy-on-write.
preload_app = _env_bool("preload_app", True)
proc_name = _env("proc_name", "redflask")
pidfile = _env("pidfile", "") or None
daemon = False  # supervisor manages the process; a daemonised gunicorn would escape it
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn), which two
# masters (two apps, or old and new during a restart) would fight over: off by default.
control_socket_disable = _env_bool("control_socket_disable", True)
if _env("control_socket", ""):
    control_socket = _env("control_socket", "")

# --- logging -----------------------------------------------------------------------
loglevel = _env("loglevel", "info")
# "-" is stderr (captured by supervisor); a path writes a file; empty turns the access log
# off (the app already writes one JSON line per request).
accesslog = _env("accesslog", "-") or None
errorlog = _env("errorlog", "-") or "-"
# %(D)s is the response time in microseconds; the request id is the header the app returns.
access_log_format = _env(
    "access_log_format",
    '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)sus rid=%({x-request-id}o)s',
)

# --- proxy -------------------------------------------------------------------------
# Addresses of the nginx host(s) allowed to set X-Forwarded-*; the app's ProxyFix trusts
# exactly one hop of them.
forwarded_allow_ips = _env("forwarded_allow_ips", "127.0.0.1,::1")
