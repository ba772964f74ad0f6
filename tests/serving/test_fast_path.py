"""The scikit-learn fast path gives exactly pyfunc's answers, and declines whatever it has not checked."""

from __future__ import annotations

import contextlib
import dataclasses

import mlflow
import numpy as np
import orjson
import pytest

from jupyter_mlops.serving.protocol import BadScoringRequest, ScoringModel, invocations, parse_request

from .conftest import MODEL_NAME, mlflow_at

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def models(serving_config, registered_model) -> tuple[ScoringModel, ScoringModel]:
    """(with fast path, pyfunc only) for version 1, loaded in this process."""
    with mlflow_at(serving_config):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1")
    fast = ScoringModel.from_pyfunc(pyfunc)
    return fast, dataclasses.replace(fast, fast_predict=None, fast_columns=None)


def split_body(rows: list[list[object]], columns: list[str] = COLUMNS) -> bytes:
    return orjson.dumps({"dataframe_split": {"columns": columns, "data": rows}})


def test_fast_path_is_taken_and_answers_like_pyfunc(models, registered_model) -> None:
    fast, slow = models
    assert fast.fast_columns == tuple(COLUMNS)
    rng = np.random.default_rng(0)
    bodies = [split_body(registered_model.X.iloc[i : i + n].values.tolist()) for i, n in ((0, 1), (40, 7), (0, 150))]
    bodies.append(split_body(rng.normal(5, 3, size=(200, 4)).tolist()))
    bodies.append(split_body([[5, 3, 1, 0]]))  # JSON integers for double columns
    # pandas' to_dict(orient="split") adds the index: same predictions
    bodies.append(orjson.dumps({"dataframe_split": registered_model.X.iloc[3:6].to_dict(orient="split")}))
    for body in bodies:
        assert parse_request(body, "application/json", fast).fast
        assert invocations(fast, body, "application/json") == invocations(slow, body, "application/json")


@pytest.mark.parametrize(
    "body",
    [
        split_body([[5.1, 3.5, 1.4, None]]),
        split_body([[5.1, 3.5, 1.4, True]]),
        split_body([[5.1, 3.5, 1.4, "0.2"]]),
        split_body([[5.1, 3.5, 1.4]]),
        split_body([[0.2, 1.4, 3.5, 5.1]], COLUMNS[::-1]),
        orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]], "index": [7, 8]}}),
        orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}, "params": {}}),
    ],
    ids=["null", "bool", "string", "short-row", "other-order", "index-length", "params"],
)
def test_anything_unusual_takes_the_general_path_with_the_same_outcome(models, body) -> None:
    fast, slow = models
    with contextlib.suppress(BadScoringRequest):  # refused while parsing, as the general path does
        assert not parse_request(body, "application/json", fast).fast

    def outcome(model: ScoringModel) -> object:
        try:
            return invocations(model, body, "application/json")
        except Exception as exc:
            return type(exc), getattr(exc, "message", str(exc))

    assert outcome(fast) == outcome(slow)
