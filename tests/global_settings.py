"""The process-wide settings tests must leave as they found them: MLflow's URIs and JUPYTER_MLOPS_* variables."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

GLOBAL_ENV = ("JUPYTER_MLOPS_", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextlib.contextmanager
def global_settings_kept() -> Iterator[None]:
    """Leave the process's MLflow URIs and JUPYTER_MLOPS_* settings as they were before the block.

    In-process code under test legitimately sets them (the server extension exports its settings for kernels;
    the serving host points MLflow at its stores); left behind, they would silently redirect later tests.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    saved_env = {k: v for k, v in os.environ.items() if k.startswith(GLOBAL_ENV)}
    saved_uris = (tracking_state._tracking_uri, registry_state._registry_uri)
    yield
    for key in [k for k in os.environ if k.startswith(GLOBAL_ENV)]:
        del os.environ[key]
    os.environ.update(saved_env)
    if (tracking_state._tracking_uri, registry_state._registry_uri) != saved_uris:
        mlflow.set_tracking_uri(saved_uris[0])  # type: ignore[arg-type]
        registry_state._registry_uri = saved_uris[1]
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            if key not in saved_env:
                os.environ.pop(key, None)
