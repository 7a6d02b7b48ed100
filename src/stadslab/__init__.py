"""Stadslab: the open platform of the Dutch Smart City network."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stadslab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"
