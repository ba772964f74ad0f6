"""Small pyfunc models with controlled misbehaviour, serialised by value so the daemon can load them.

``Faulty`` raises on rows whose first feature exceeds ``fail_above`` (a canary that breaks on part of the
traffic); ``Slow`` sleeps ``sleep_s`` on rows whose first feature exceeds ``slow_above`` (timeouts, overload).
Both answer the input example quickly, so warm-up passes and the deployment becomes ready.
"""

from __future__ import annotations

import sys
import time

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from jupyter_mlops.config import MLOpsConfig

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Faulty(mlflow.pyfunc.PythonModel):
    def __init__(self, fail_above: float) -> None:
        self.fail_above = fail_above

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - pyfunc's signature
        first = model_input.iloc[:, 0]
        if (first > self.fail_above).any():
            raise ValueError("feature out of the range this model supports")
        return np.ones(len(model_input), dtype=np.int64)


class Slow(mlflow.pyfunc.PythonModel):
    def __init__(self, slow_above: float, sleep_s: float) -> None:
        self.slow_above, self.sleep_s = slow_above, sleep_s

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        if (model_input.iloc[:, 0] > self.slow_above).any():
            time.sleep(self.sleep_s)
        return np.zeros(len(model_input), dtype=np.int64)


def register_pyfunc(config: MLOpsConfig, experiment_id: str, name: str, model: object, X: pd.DataFrame) -> str:
    """Log and register ``model`` as a new version of ``name``; returns the version."""
    from .conftest import mlflow_at

    with mlflow_at(config), mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            input_example=X.head(3),
            signature=infer_signature(X, pd.Series([1] * len(X))),
            registered_model_name=name,
        )
    return str(info.registered_model_version)
