"""The scoring protocol as plain functions: content types, JSON shapes, error messages, response rendering."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest
from mlflow.models import infer_signature

from jupyter_mlops.core.errors import UnsupportedMediaType
from jupyter_mlops.serving.protocol import (
    BadScoringRequest,
    ScoringModel,
    invocations,
    media_type,
    parse_request,
    predictions_to_json,
)

FRAME = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
SCHEMA = infer_signature(FRAME).inputs


def summing_model(schema=SCHEMA) -> ScoringModel:
    """A model that adds its columns: enough to see what parsing produced."""
    return ScoringModel(predict=lambda data, params: pd.DataFrame(data).sum(axis=1).to_numpy(), input_schema=schema)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("text/csv", "text/csv"),
    ],
)
def test_media_types_mlflow_accepts(header, expected) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/json; charset=latin-1", "text/csv; x=1"])
def test_media_types_refused_with_415(header) -> None:
    with pytest.raises(UnsupportedMediaType):
        media_type(header)


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 3], [2, 4]]}},
        {"dataframe_records": [{"a": 1, "b": 3}, {"a": 2, "b": 4}]},
        {"instances": [{"a": 1, "b": 3}, {"a": 2, "b": 4}]},
        {"inputs": {"a": [1, 2], "b": [3, 4]}},
        {"inputs": {"a": [1, 2], "b": [3, 4]}, "params": {}, "ignored": "extra keys are ignored, as in MLflow"},
    ],
)
def test_every_json_format_reaches_the_model_as_the_same_data(payload) -> None:
    assert orjson.loads(invocations(summing_model(), orjson.dumps(payload), "application/json")) == {
        "predictions": [4.0, 6.0]
    }


def test_csv_is_typed_by_the_schema() -> None:
    seen = {}

    def record(data, params):
        seen["dtypes"] = list(data.dtypes)
        return np.zeros(len(data))

    model = ScoringModel(predict=record, input_schema=SCHEMA)
    parse = parse_request(b"a,b\n1,3\n", "text/csv", model)
    model.predict(parse.data, parse.params)
    assert seen["dtypes"] == [np.dtype("float64"), np.dtype("float64")]


def test_params_reach_the_model() -> None:
    parsed = parse_request(
        orjson.dumps({"inputs": {"a": [1], "b": [2]}, "params": {"k": 3}}), "application/json", summing_model()
    )
    assert parsed.params == {"k": 3}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "valid JSON"),
        (b"[1, 2]", "Received a list"),
        (b"7", "unexpected input type 'int'"),
        (b'{"dataframe_split": {"data": [[1, 2]]}, "inputs": [1]}', "exactly one"),
        (b'{"params": {}}', "exactly one"),
        (b'{"inputs": [[1, 2]], "params": 5}', "'params' must be a JSON object"),
        (b'{"dataframe_split": [[1, 2]]}', "must be a dictionary"),
        (b'{"dataframe_records": {"a": 1}}', "must be a list of records"),
        (b'{"dataframe_records": [{"a": "SECRET", "b": 1}]}', "Failed to convert column a"),
    ],
)
def test_malformed_requests_are_bad_requests_without_the_data(body, expected) -> None:
    with pytest.raises(BadScoringRequest) as error:
        invocations(summing_model(), body, "application/json")
    assert expected in error.value.message
    assert "SECRET" not in error.value.message
    assert error.value.to_dict()["error_code"] == "BAD_REQUEST"
    assert error.value.status == 400


def test_a_model_error_is_a_bad_request_naming_only_its_type() -> None:
    def failing(data, params):
        raise ValueError("cannot handle SECRET")

    with pytest.raises(BadScoringRequest) as error:
        invocations(ScoringModel(predict=failing), b'{"inputs": [1]}', "application/json")
    assert "ValueError" in error.value.message
    assert "SECRET" not in error.value.message


def test_predictions_render_as_mlflow_does() -> None:
    assert orjson.loads(predictions_to_json(np.array([1, 2]))) == {"predictions": [1, 2]}
    assert orjson.loads(predictions_to_json(pd.Series([0.5], name="p"))) == {"predictions": [{"p": 0.5}]}
    assert orjson.loads(predictions_to_json(pd.DataFrame({"x": [1], "y": ["a"]}))) == {
        "predictions": [{"x": 1, "y": "a"}]
    }
    assert orjson.loads(predictions_to_json(np.array(["a", None], dtype=object))) == {"predictions": ["a", None]}
    assert orjson.loads(predictions_to_json([np.float32(1.5)])) == {"predictions": [1.5]}
