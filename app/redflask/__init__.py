"""redflask: the layered Flask REST service of the deployer project."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("redflask")
except PackageNotFoundError:  # a source tree that was never installed: no version to report
    __version__ = "0+unknown"

from redflask.app import create_app

__all__ = ["__version__", "create_app"]
