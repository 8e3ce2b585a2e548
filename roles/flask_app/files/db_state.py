"""Read what the database holds of the app, for the flask_app role (tasks/migrate.yml).

    cd <release> && APP_DATABASE_URL=... ./venv/bin/python -c "<this file>" <admin username>

Run in the release's directory with its own interpreter (it has PyMySQL) and the app's
environment file. Prints one JSON object, changing nothing:
  heads        the migration heads the release ships (its .db-heads, written at install;
               read from its migration scripts when the file is missing)
  revisions    the Alembic revisions the schema is at ([] on an empty database)
  admin        whether a user with the admin's username exists

Importing the app costs over a second; this costs a connection, so an unchanged
deployment can tell that nothing is left to migrate or create without starting the app.
"""

import json
import os
import sys
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

sys.dont_write_bytecode = True  # the release is read-only for the app user

url = urlsplit(os.environ["APP_DATABASE_URL"])
if not url.scheme.startswith("mysql"):
    raise SystemExit(f"APP_DATABASE_URL is not a MySQL URL ({url.scheme})")
connection = pymysql.connect(
    host=url.hostname,
    port=url.port or 3306,
    user=unquote(url.username or ""),
    password=unquote(url.password or ""),
    database=url.path.lstrip("/"),
    charset=parse_qs(url.query).get("charset", ["utf8mb4"])[0],
    connect_timeout=10,
)
try:
    with open(".db-heads") as handle:
        heads = json.load(handle)
except FileNotFoundError:
    # A release installed before .db-heads existed: read its migration scripts (slower).
    from alembic.script import ScriptDirectory

    heads = sorted(ScriptDirectory("redflask/migrations").get_heads())
state = {"heads": heads, "revisions": [], "admin": False}
with connection, connection.cursor() as cursor:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = DATABASE() AND table_name IN ('alembic_version', 'sys_user')"
    )
    tables = {row[0] for row in cursor.fetchall()}
    if "alembic_version" in tables:
        cursor.execute("SELECT version_num FROM alembic_version")
        state["revisions"] = sorted(row[0] for row in cursor.fetchall())
    if "sys_user" in tables:
        cursor.execute("SELECT COUNT(*) FROM sys_user WHERE username = %s", (sys.argv[1],))
        state["admin"] = cursor.fetchone()[0] > 0
print(json.dumps(state))
