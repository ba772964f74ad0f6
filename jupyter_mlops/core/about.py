"""The package's version, importable from any layer without importing the package root (which loads the doors).

Read from the installed distribution's metadata, which every install has (wheel, editable, a worktree's editable
install), rather than from a file the build writes into the source tree.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jupyter_mlops")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0.0.0.dev0"

__all__ = ["__version__"]
