"""Filters of the flask_app role: the app's nginx upstream as data.

Tested by tests/test_flask_app_filters.py (run by `make test`).
"""

# A server that nginx may take out after this many failed attempts (in fail_timeout).
MAX_FAILS = 3
FAIL_TIMEOUT = "10s"


def upstream_servers(addresses, port, standby_port, down=(), standby=()):
    """The server lines of the app's upstream, one dict per gunicorn.

    addresses: {app host: address its gunicorn listens on}, in upstream order.
    down: app hosts drained or left out (their server is marked down).
    standby: app hosts whose standby gunicorn (standby_port) also serves.

    nginx applies its passive health check (max_fails) once a group has two entries, even
    when one of them is down; a lone live server then gets max_fails=0 so nginx never takes
    it out, or it would answer "no live upstreams" (502) for fail_timeout after a few
    connection errors (such as idle keepalive connections a recycling worker closed).
    """
    down, standby = set(down), set(standby)
    unknown = (down | standby) - set(addresses)
    if unknown:
        raise ValueError(f"not app hosts of the upstream: {sorted(unknown)}")
    live = sum(host not in down for host in addresses) + sum(host in standby for host in addresses)
    max_fails = 0 if live <= 1 else MAX_FAILS
    servers = []
    for host, address in addresses.items():
        servers.append(
            {
                "address": f"{address}:{port}",
                "max_fails": max_fails,
                "fail_timeout": FAIL_TIMEOUT,
                "down": host in down,
            }
        )
        if host in standby:
            servers.append(
                {
                    "address": f"{address}:{standby_port}",
                    "max_fails": max_fails,
                    "fail_timeout": FAIL_TIMEOUT,
                    "down": False,
                }
            )
    return servers


class FilterModule:
    def filters(self):
        return {"flask_app_upstream_servers": upstream_servers}
