"""The package's version, importable from any layer without importing the package root (which loads the doors)."""

from __future__ import annotations

try:
    from .._version import __version__
except ImportError:  # pragma: no cover - source tree without a build
    __version__ = "0.0.0.dev0"

__all__ = ["__version__"]
