"""Run on an app host with the release's Python: what can the app's own credentials do?

Reads the app's environment file (the path is the first argument), connects to MySQL and
Redis exactly as the app does, and prints one JSON object describing what was allowed and
what was refused. The verify playbook asserts on it; this script judges nothing itself.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
import redis


def read_env(path: str) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name] = shlex.split(value)[0] if value else ""
    return env


def refused(action) -> str:
    """'refused: <error>' when the action raised, else 'allowed'."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - any refusal is the answer we look for
        return f"refused: {type(exc).__name__}: {exc}"
    return "allowed"


def probe_mysql(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    connection = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        connect_timeout=5,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER(), DATABASE(), @@hostname")
        current_user, database, server = cursor.fetchone()
        cursor.execute("SHOW GRANTS")
        # The password hash is no business of the report.
        grants = [
            re.sub(r"IDENTIFIED BY PASSWORD '[^']*'", "IDENTIFIED BY PASSWORD <hash>", row[0])
            for row in cursor.fetchall()
        ]
        cursor.execute("SELECT COUNT(*) FROM sys_user")
        users = cursor.fetchone()[0]
        result = {
            "current_user": current_user,
            "database": database,
            "server": server,
            "grants": grants,
            "app_table_rows": users,
            "create_database": refused(
                lambda: cursor.execute("CREATE DATABASE deployer_probe_forbidden")
            ),
            "read_mysql_user": refused(lambda: cursor.execute("SELECT COUNT(*) FROM mysql.user")),
            "create_user": refused(
                lambda: cursor.execute("CREATE USER 'deployer_probe'@'%' IDENTIFIED BY 'x'")
            ),
            # The schema is the migrations' account's: the app's may not change it.
            "create_table": refused(
                lambda: cursor.execute("CREATE TABLE deployer_probe_forbidden (id INT)")
            ),
            "alter_table": refused(
                lambda: cursor.execute("ALTER TABLE sys_user ADD COLUMN deployer_probe INT")
            ),
            "drop_table": refused(lambda: cursor.execute("DROP TABLE alembic_version")),
        }
    connection.close()
    return result


def probe_redis(url: str, prefix: str) -> dict[str, object]:
    client = redis.Redis.from_url(url, protocol=2, socket_timeout=5, decode_responses=True)
    key = f"{prefix}deployer-probe"
    client.set(key, "1", ex=60)
    parts = urlsplit(url)
    anonymous = redis.Redis(host=parts.hostname, port=parts.port or 6379, protocol=2)
    return {
        "ping": client.ping(),
        "get_own_key": client.get(key) == "1",
        "own_key_ttl": client.pttl(key) > 0,
        "whoami": refused(client.acl_whoami),
        "acl_setuser": refused(
            lambda: client.execute_command("ACL", "SETUSER", "deployer-probe", "on", "+@all")
        ),
        "config_set": refused(lambda: client.config_set("maxmemory", "1")),
        "script_flush": refused(client.script_flush),
        "flushall": refused(client.flushall),
        "keys_command": refused(lambda: client.keys("*")),
        "outside_prefix": refused(lambda: client.get("deployer-probe-outside")),
        "anonymous_ping": refused(anonymous.ping),
    }


def main() -> None:
    env = read_env(sys.argv[1])
    print(
        json.dumps(
            {
                "mysql": probe_mysql(env["APP_DATABASE_URL"]),
                "redis": probe_redis(env["APP_REDIS_URL"], env["APP_REDIS_PREFIX"]),
            }
        )
    )


if __name__ == "__main__":
    main()
