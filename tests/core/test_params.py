"""Inference ``params`` end to end: a model with a non-empty param schema, served by a real daemon.

As MLflow's scoring server: a valid value changes the answer, a value of the wrong type is a 400 naming the
parameter, and a name the schema does not declare is ignored.
"""

from __future__ import annotations

import mlflow
import numpy as np
import orjson
import pandas as pd
import pytest
from mlflow.models import infer_signature

from jupyter_mlops.core.errors import InvalidRequest


class Threshold(mlflow.pyfunc.PythonModel):
    """1 where ``x`` exceeds the ``threshold`` parameter (default 0.5)."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        threshold = (params or {}).get("threshold", 0.5)
        return (model_input["x"] > threshold).astype(int).to_numpy()


@pytest.fixture(scope="module")
def thresholded(mlops, tmp_path_factory):
    """A deployment of a model whose signature declares ``threshold: float = 0.5``, logged with MLflow itself."""
    X = pd.DataFrame({"x": [0.1, 0.4, 0.6, 0.9]})
    signature = infer_signature(X, np.array([0, 0, 1, 1]), params={"threshold": 0.5})
    assert signature.params is not None and len(signature.params.params) == 1
    artifacts = tmp_path_factory.mktemp("params-artifacts").as_uri()
    # MLflow's fluent API on this installation's stores for the block only: mlflow.set_tracking_uri here would
    # also set MLFLOW_TRACKING_URI for every later test file of this pytest process (before, with xdist, it
    # redirected the CLI, registry and monitoring tests that a worker ran after this module).
    with mlops.registry.fluent():
        experiment = mlflow.create_experiment("params-e2e", artifact_location=artifacts)
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.pyfunc.log_model(name="model", python_model=Threshold(), signature=signature, input_example=X)
    version = mlops.register(f"runs:/{run.info.run_id}/model", "thresholded")
    mlops.deploy(f"thresholded/{version.version}", "thresholded")
    yield "thresholded", X
    mlops.undeploy("thresholded")


def _call(mlops, name: str, X: pd.DataFrame, params: dict | None) -> tuple[int, object]:
    body = {"dataframe_split": X.to_dict(orient="split", index=False)}
    if params is not None:
        body["params"] = params
    status, _headers, reply = mlops.invoke(name, orjson.dumps(body))
    return status, orjson.loads(reply)


def test_a_declared_param_changes_the_answer(mlops, thresholded) -> None:
    name, X = thresholded
    assert mlops.predict(name, X) == [0, 0, 1, 1]  # the schema's default
    assert mlops.predict(name, X, params={"threshold": 0.05}) == [1, 1, 1, 1]
    assert mlops.predict(name, X, params={"threshold": 0.95}) == [0, 0, 0, 0]
    status, reply = _call(mlops, name, X, {"threshold": 0.5})
    assert status == 200 and reply == {"predictions": [0, 0, 1, 1]}


def test_a_param_of_the_wrong_type_is_a_400_naming_it(mlops, thresholded) -> None:
    name, X = thresholded
    status, reply = _call(mlops, name, X, {"threshold": "high"})
    assert status == 400 and "threshold" in reply["message"], reply
    with pytest.raises(InvalidRequest, match="threshold"):
        mlops.predict(name, X, params={"threshold": "high"})


def test_an_undeclared_param_is_ignored_as_mlflow_does(mlops, thresholded) -> None:
    name, X = thresholded
    status, reply = _call(mlops, name, X, {"temperature": 3, "threshold": 0.05})
    assert status == 200 and reply == {"predictions": [1, 1, 1, 1]}, reply
    assert mlops.predict(name, X, params={"temperature": 3}) == [0, 0, 1, 1]
