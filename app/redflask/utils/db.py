"""SQLAlchemy engine and per-request sessions, bound to each app by init_app.

State lives in app.extensions, so several apps (tests build many) never share an engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

_EXT = "redflask.db"


@dataclass
class _State:
    engine: Engine
    factory: sessionmaker[Session]


class Database:
    def init_app(self, app: Flask, url: str, pool_size: int, max_overflow: int) -> None:
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # MySQL drops idle connections after wait_timeout: test before use and recycle.
            pool_pre_ping=True,
            pool_recycle=1800,
            # Fail fast when the server is unreachable: readiness probes must answer quickly.
            connect_args={"connect_timeout": 5},
            # Errors (and so the logs) show the SQL but never the bound values: password
            # hashes, file contents, names.
            hide_parameters=True,
        )
        # With gunicorn preload_app the engine is built in the master: a forked worker must
        # not reuse the parent's pooled sockets, so it starts with an empty pool.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        app.extensions[_EXT] = _State(engine, sessionmaker(engine, expire_on_commit=False))
        app.teardown_appcontext(self._close_request_session)

    @staticmethod
    def _state() -> _State:
        return current_app.extensions[_EXT]

    @property
    def engine(self) -> Engine:
        return self._state().engine

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        if "db_session" not in g:
            g.db_session = self._state().factory()
        return g.db_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session of its own for work outside a request (CLI, background tasks)."""
        with self._state().factory() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @staticmethod
    def _close_request_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
