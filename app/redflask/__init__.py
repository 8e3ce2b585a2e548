"""redflask: the layered Flask REST service of the deployer project."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("redflask")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "1.0.0"

from redflask.app import create_app

__all__ = ["__version__", "create_app"]
