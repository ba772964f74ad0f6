"""Open Inference Protocol V2 on a real daemon, driven by an off-the-shelf client (``tritonclient[http]``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from .conftest import daemon_url

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def v2_deployment(deploy_module, registered_model):
    return deploy_module("v2-iris", registered_model.version)


@pytest.fixture(scope="module")
def deploy_module(store, local_target, serving_daemon):
    from .conftest import put_deployment, undeploy

    names: list[str] = []

    def _deploy(name: str, version: str):
        names.append(name)
        put_deployment(store, name, version)
        local_target.apply(name)
        return local_target.wait_ready(name, 60)

    yield _deploy
    for name in names:
        undeploy(store, local_target, name)


@pytest.fixture
def client(local_target, v2_deployment):
    url = urlsplit(daemon_url(local_target)).netloc
    with triton.InferenceServerClient(url=url) as client:
        yield client


def rows(registered_model, n: int = 5) -> np.ndarray:
    return registered_model.X.head(n).to_numpy(dtype=np.float64)


def test_health_and_readiness(client) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("v2-iris")
    assert not client.is_model_ready("no-such-model")


def test_metadata_comes_from_the_mlflow_signature(client) -> None:
    metadata = client.get_model_metadata("v2-iris")
    assert metadata["name"] == "v2-iris"
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "mlflow"
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        (column, "FP64", [-1]) for column in COLUMNS
    ]
    assert metadata["outputs"][0]["datatype"] == "INT64"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_one_tensor_per_column(client, registered_model, binary: bool) -> None:
    data = rows(registered_model)
    inputs = []
    for index, column in enumerate(COLUMNS):
        tensor = triton.InferInput(column, [len(data)], "FP64")
        tensor.set_data_from_numpy(data[:, index].copy(), binary_data=binary)
        inputs.append(tensor)
    result = client.infer("v2-iris", inputs, request_id="abc")
    expected = registered_model.expected(registered_model.X.head(5))
    assert result.as_numpy("predictions").tolist() == expected
    response = result.get_response()
    assert response["model_name"] == "v2-iris" and response["model_version"] == "1" and response["id"] == "abc"


def test_infer_one_matrix_and_a_pinned_version(client, registered_model) -> None:
    data = rows(registered_model, 3)
    tensor = triton.InferInput("input", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data, binary_data=False)
    result = client.infer("v2-iris", [tensor], model_version="1")
    assert result.as_numpy("predictions").tolist() == registered_model.expected(registered_model.X.head(3))
    with pytest.raises(InferenceServerException, match="does not serve version '7'"):
        client.infer("v2-iris", [tensor], model_version="7")


def test_bad_tensors_are_400_with_a_reason_and_no_payload(client, http, local_target) -> None:
    tensor = triton.InferInput("sepal_length", [2], "FP64")
    tensor.set_data_from_numpy(np.array([5.123456789, 1.0]), binary_data=False)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("v2-iris", [tensor])
    assert "5.123456789" not in str(raised.value)
    url = f"{daemon_url(local_target)}/v2/models/v2-iris/infer"
    bad_shape = {"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1.0, 2.0]}]}
    response = http.post(url, content=orjson.dumps(bad_shape), headers=JSON)
    assert response.status_code == 400
    assert "does not fit shape" in response.json()["error"]
    assert http.post(url, content=b"{}", headers=JSON).status_code == 400
    nope = f"{daemon_url(local_target)}/v2/models/nope/infer"
    missing = http.post(nope, content=orjson.dumps(bad_shape), headers=JSON)
    assert missing.status_code == 404 and "error" in missing.json()
