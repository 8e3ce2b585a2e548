"""Data files preloaded into memory once per process (seed section 6).

load_resources() runs inside create_app, so with gunicorn's preload_app it runs once in
the master and workers share the pages copy-on-write; without preloading it runs once per
worker. Nothing here is read from disk on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources

from flask import Flask, current_app

_EXT = "redflask.resources"


@dataclass(frozen=True)
class Resources:
    common_passwords: frozenset[str]


@cache
def _read_lines(name: str) -> frozenset[str]:
    text = importlib_resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def load_resources(app: Flask) -> Resources:
    loaded = Resources(common_passwords=_read_lines("common_passwords.txt"))
    app.extensions[_EXT] = loaded
    return loaded


def get_resources() -> Resources:
    return current_app.extensions[_EXT]
