"""The package's version, read from its installed metadata: pyproject.toml is the one
place it is written."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-unsupseg")
except PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
