"""Load a filter plugin of the repository by path (roles' and playbooks' filter_plugins are
not packages), for the unit tests beside this file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load(relative: str):
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem + "_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
