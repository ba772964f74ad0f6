"""V2 ``infer`` takes the scikit-learn fast path on the same conditions as ``/invocations`` and answers exactly as
pyfunc does; the fast path predicts on the frame's float array for a plain scikit-learn estimator."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import orjson
import pytest

from jupyter_mlops.serving import v2
from jupyter_mlops.serving.protocol import ArrayPredict, ScoringModel

from .conftest import MODEL_NAME, mlflow_at

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def models(serving_config, registered_model) -> tuple[ScoringModel, ScoringModel]:
    """(with fast path, pyfunc only) for version 1 (GradientBoosting), loaded in this process."""
    with mlflow_at(serving_config):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1")
    fast = ScoringModel.from_pyfunc(pyfunc)
    return fast, dataclasses.replace(fast, fast_predict=None, fast_columns=None)


def columns_body(rows: np.ndarray, datatype: str = "FP64", names: list[str] = COLUMNS) -> bytes:
    inputs = [
        {"name": name, "shape": [len(rows)], "datatype": datatype, "data": rows[:, i].tolist()}
        for i, name in enumerate(names)
    ]
    return orjson.dumps({"inputs": inputs})


def answer(model: ScoringModel, body: bytes) -> object:
    try:
        return v2.infer(model, body, None, deployment="d", version="1", request_id="r").body
    except Exception as exc:
        return type(exc), getattr(exc, "message", str(exc))


def test_gradient_boosting_predicts_on_the_array(models) -> None:
    fast, _ = models
    assert isinstance(fast.fast_predict, ArrayPredict)


def test_column_tensors_take_the_fast_path_with_pyfunc_answers(models, registered_model) -> None:
    fast, slow = models
    rows = registered_model.X.iloc[:40].to_numpy(dtype=np.float64)
    body = columns_body(rows)
    data = v2.to_model_input(orjson.loads(body), b"", fast)
    assert v2._fits_fast_path(data, fast)
    assert answer(fast, body) == answer(slow, body)


@pytest.mark.parametrize(
    "body",
    [
        columns_body(np.array([[5.1, 3.5, 1.4, 0.2]]), "FP32"),
        columns_body(np.array([[0.2, 1.4, 3.5, 5.1]]), names=COLUMNS[::-1]),
        columns_body(np.array([[5.1, 3.5, 1.4, 0.2]]), "INT64"),
    ],
    ids=["float32", "other-order", "int64"],
)
def test_anything_else_keeps_pyfunc_with_the_same_outcome(models, body) -> None:
    fast, slow = models
    try:
        data = v2.to_model_input(orjson.loads(body), b"", fast)
    except Exception:
        data = None
    assert data is None or not v2._fits_fast_path(data, fast)
    assert answer(fast, body) == answer(slow, body)
