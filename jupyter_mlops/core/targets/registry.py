"""Targets by name: the classes configured in ``MLOpsConfig.targets`` (``{"kserve": "pkg.module.Class"}``)."""

from __future__ import annotations

import importlib

from ...config import MLOpsConfig
from ..errors import InvalidRequest
from ..store import Store
from .base import Target

# Short names usable instead of a class path in ``c.MLOpsConfig.targets``.
BUILTIN = {
    "local": "jupyter_mlops.core.targets.local.LocalTarget",
    "kserve": "jupyter_mlops.core.targets.kserve.KServeTarget",
    "ray": "jupyter_mlops.core.targets.ray.RayServeTarget",
}


def load_class(path: str) -> type[Target]:
    """Import ``package.module.Class`` (or a built-in short name) and check that it is a Target."""
    path = BUILTIN.get(path, path)
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidRequest(
            f"Target class {path!r} cannot be imported ({type(exc).__name__}: {exc}); check c.MLOpsConfig.targets "
            "and that the target's extra is installed (e.g. pip install 'jupyter_mlops[kserve]')."
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise InvalidRequest(f"{path!r} is not a jupyter_mlops Target subclass.")
    return cls


def build_targets(config: MLOpsConfig, store: Store) -> dict[str, Target]:
    """One instance of each configured target, built as ``cls(config, store)``."""
    built: dict[str, Target] = {}
    for name, path in config.targets.items():
        if not isinstance(path, str):
            raise InvalidRequest(f"c.MLOpsConfig.targets[{name!r}] must be a class path string.")
        built[str(name)] = load_class(path)(config, store)  # type: ignore[call-arg]
    return built
