"""Targets: where deployments run."""

from .base import ProgressCallback, Target

__all__ = ["ProgressCallback", "Target"]
