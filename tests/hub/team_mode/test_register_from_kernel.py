"""Registering from a team-mode kernel: the kernel saves and packs the model, the service checks the archive as
files (never loading it), logs it as a new MLflow run's artifacts and registers it as the token's user.

Also the archive checks at the service's door (symlinks, hard links, ``..``, absolute paths, no MLmodel, no
python_function flavor, not a tar.gz, too large, no token): 4xx with a message naming what is wrong, nothing
registered.
"""

from __future__ import annotations

import http.client
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import NotFound
from jupyter_mlops.core.monitoring import baseline as baselines
from jupyter_mlops.core.service import MLOps

from .conftest import MAX_UPLOAD_MB, TeamHub

pytestmark = pytest.mark.slow

TRAIN = (
    "import json, jupyter_mlops\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_iris(return_X_y=True, as_frame=True)\n"
    "X.columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']\n"
    "model = LogisticRegression(max_iter=500).fit(X, y)\n"
)
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture
def service_side(team_hub: TeamHub) -> Iterator[MLOps]:
    """The store and MLflow as the service sees them (the test reads what the service wrote)."""
    config = MLOpsConfig(
        data_dir=team_hub.service_config["JUPYTER_MLOPS_DATA_DIR"],
        store_url=team_hub.service_config["JUPYTER_MLOPS_STORE_URL"],
    )
    mlops = MLOps(config)
    yield mlops
    mlops.close()


def test_a_kernel_registers_a_model_object_as_its_user(team_hub: TeamHub, service_side: MLOps) -> None:
    name = f"kernel-iris-{uuid.uuid4().hex[:8]}"
    with team_hub.kernel("alice") as kernel:
        result = kernel.json(
            TRAIN + f"v = jupyter_mlops.register(model, {name!r}, X, y, description='from alice', "
            "tags={'team': 'risk'})\n"
            f"d = jupyter_mlops.deploy(f'{name}/{{v.version}}', name={name!r})\n"
            f"p = jupyter_mlops.predict({name!r}, X.iloc[[0, 149]])\n"
            "print(json.dumps({'version': v.version, 'run_id': v.run_id, 'owner': d.owner,\n"
            "                  'predictions': [int(x) for x in p]}))\n"
        )
        try:
            # the version is MLflow's: a run of the service's experiment holds the model's files
            version = service_side.registry.version(name, result["version"])
            assert version.run_id == result["run_id"] and version.description == "from alice"
            assert version.tags["mlops.registered_by"] == "alice" and version.tags["team"] == "risk"
            assert version.tags["mlops.lineage.source"].startswith("client-asserted")
            assert "mlops.python" in version.tags  # lineage the kernel sent, kept and labelled
            assert version.signature and version.params.get("max_iter") == "500"
            assert "training_score" in version.metrics
            # the baseline and parity sample computed in the kernel are stored beside the model
            profile = service_side.registry.read_run_json(version.run_id, baselines.BASELINE_ARTIFACT)
            assert profile and profile.get("features"), profile
            parity = service_side.registry.read_run_json(version.run_id, baselines.PARITY_SAMPLE_ARTIFACT)
            assert parity and len(parity["data"]) > 0
            # the ledger says who registered, from the token
            events = service_side.audit.events(target=f"model/{name}/{result['version']}")
            assert [(e.action, e.actor) for e in events] == [("register", "alice")]
            # and the uploaded model serves
            assert result["owner"] == "alice" and result["predictions"] == [0, 2]
        finally:
            kernel.run(f"jupyter_mlops.undeploy({name!r})")


def test_a_kernel_registers_a_uri_the_service_can_read(team_hub: TeamHub, service_side: MLOps) -> None:
    name = f"kernel-uri-{uuid.uuid4().hex[:8]}"
    with team_hub.kernel("bob") as kernel:
        result = kernel.json(
            "import json, jupyter_mlops\n"
            f"v = jupyter_mlops.register('models:/iris/1', {name!r})\n"
            "print(json.dumps({'version': v.version}))\n"
        )
    version = service_side.registry.version(name, result["version"])
    assert version.tags["mlops.registered_by"] == "bob"


def test_a_kernel_registers_with_a_labelled_reference_set(team_hub: TeamHub, service_side: MLOps) -> None:
    """The reference travels with the upload (and with a URI), is checked by the kernel (training rows, labels)
    and again by the service against the uploaded model's signature, and lands as the version's reference."""
    from jupyter_mlops.core.monitoring import reference as references

    name = f"kernel-ref-{uuid.uuid4().hex[:8]}"
    split = (
        "from sklearn.model_selection import train_test_split\n"
        "X_tr, X_ref, y_tr, y_ref = train_test_split(X, y, test_size=0.4, random_state=0)\n"
        "model = LogisticRegression(max_iter=500).fit(X_tr, y_tr)\n"
    )
    with team_hub.kernel("alice") as kernel:
        result = kernel.json(
            TRAIN + split + f"v = jupyter_mlops.register(model, {name!r}, X_tr, y_tr, reference=(X_ref, y_ref))\n"
            f"u = jupyter_mlops.register(f'runs:/{{v.run_id}}/model', {name!r}, reference=(X_ref, y_ref))\n"
            "print(json.dumps({'version': v.version, 'uri_version': u.version, 'rows': len(X_ref)}))\n"
        )
        # bad references are refused with what to fix, and register nothing
        _, wrong_columns = kernel.run(
            "bad = X_ref.drop(columns=['petal_width'])\n"
            f"jupyter_mlops.register(model, {name!r}, X_tr, y_tr, reference=(bad, y_ref))"
        )
        _, training_rows = kernel.run(f"jupyter_mlops.register(model, {name!r}, X_tr, y_tr, reference=(X_tr, y_tr))")
        _, no_run = kernel.run(f"jupyter_mlops.register('models:/{name}/1', {name!r}, reference=(X_ref, y_ref))")
    for version in (result["version"], result["uri_version"]):
        stored = references.load_reference(service_side.registry, name, version)
        assert stored is not None and stored.rows == result["rows"], version
        assert (
            service_side.registry.version(name, version)
            .tags[references.REFERENCE_TAG]
            .startswith(references.REFERENCE_ARTIFACT)
        )
    assert "InvalidRequest" in wrong_columns and "petal_width" in wrong_columns, wrong_columns
    assert "training rows" in training_rows, training_rows
    assert "runs:/<run_id>/<path>" in no_run, no_run
    assert sorted(v.version for v in service_side.versions(name)) == sorted({result["version"], result["uri_version"]})


def test_the_service_checks_an_uploaded_reference_against_the_models_signature(
    team_hub: TeamHub, service_side: MLOps, tmp_path: Path
) -> None:
    """A client that skips the kernel's checks (any client can) still cannot store a reference that does not fit."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.hub import upload

    X = pd.DataFrame(ROWS * 20, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    y = [0, 2] * 20
    model = LogisticRegression(max_iter=500).fit(X, y)
    name = f"kernel-badref-{uuid.uuid4().hex[:8]}"
    bad = {"columns": ["a", "b"], "data": [[1, 2]] * 40, "labels": [0] * 40}
    packed = upload.pack(model, X, y, tmp_path, parity_rows=0, params=None, metrics=None, tags=None,
                         description=None, alias=None, notebook=None, user="alice", reference=bad)  # fmt: skip
    answer = _upload(team_hub, name, packed.read_bytes(), team_hub.tokens["alice"])
    assert answer.status_code == 400, answer.text
    assert "missing" in answer.json()["message"] and "sepal_length" in answer.json()["message"], answer.json()
    with pytest.raises(NotFound):
        service_side.registry.model(name)


def test_a_users_model_is_served_without_the_services_credentials(team_hub: TeamHub) -> None:
    """Alice registers a model whose predict reports the credentials its process can see and tries the store with
    them; the service serves it (isolated by default in team mode) and it sees none and cannot connect."""
    password = team_hub.store_url.split(":")[2].split("@")[0]
    name = f"env-probe-{uuid.uuid4().hex[:8]}"
    probe = (
        "import json, jupyter_mlops, mlflow.pyfunc, pandas as pd\n"
        "class Probe(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        import os\n"
        "        words = ('PASSWORD', 'TOKEN', 'SECRET', 'STORE_URL', 'KEY', 'PG', 'JUPYTERHUB', 'USERNAME', 'AUDIT')\n"
        "        seen = sorted(k for k in os.environ if any(w in k for w in words))\n"
        f"        seen += sorted('value of ' + k for k, v in os.environ.items() if {password!r} in v\n"
        "                       or 'postgresql' in v)\n"
        "        try:\n"
        "            import psycopg\n"
        f"            psycopg.connect('host=127.0.0.1 port={team_hub.pg.port} dbname=mlops user=mlops',\n"
        "                            connect_timeout=5).close()\n"
        "            store = 'connected'\n"
        "        except Exception as exc:\n"
        "            store = 'refused'\n"
        "        return [';'.join(seen) + '|' + store] * len(model_input)\n"
        "X = pd.DataFrame({'x': [1.0, 2.0]})\n"
        f"v = jupyter_mlops.register(Probe(), {name!r}, X)\n"
        f"d = jupyter_mlops.deploy(f'{name}/{{v.version}}', name={name!r})\n"
        f"print(json.dumps({{'seen': list(jupyter_mlops.predict({name!r}, X)),\n"
        f"                  'isolated': jupyter_mlops.client().deployment({name!r}).message}}))\n"
    )
    with team_hub.kernel("alice") as kernel:
        try:
            result = kernel.json(probe)
        finally:
            kernel.run(f"jupyter_mlops.undeploy({name!r})")
    assert result["seen"] == ["|refused", "|refused"], result
    assert "own process" in (result["isolated"] or ""), result


def _archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, None


MLMODEL = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
BAD_ARCHIVES: dict[str, tuple[bytes, str]] = {
    "symlink": (_archive(_file("MLmodel", MLMODEL), _special("model.pkl", tarfile.SYMTYPE, "/etc/passwd")),
                "a symlink"),
    "hard link": (_archive(_file("MLmodel", MLMODEL), _special("x", tarfile.LNKTYPE, "MLmodel")), "a hard link"),
    "device": (_archive(_file("MLmodel", MLMODEL), _special("dev", tarfile.CHRTYPE)), "device"),
    "dot-dot": (_archive(_file("MLmodel", MLMODEL), _file("../../escape.py", b"x")), "climbs out"),
    "absolute": (_archive(_file("MLmodel", MLMODEL), _file("/tmp/abs.py", b"x")), "absolute path"),
    "no MLmodel": (_archive(_file("model.pkl", b"x")), "no MLmodel file at its root"),
    "nested MLmodel": (_archive(_file("model/MLmodel", MLMODEL)), "no MLmodel file at its root"),
    "no pyfunc": (_archive(_file("MLmodel", b"flavors:\n  keras: {}\n")), "no python_function flavor"),
    "not yaml": (_archive(_file("MLmodel", b"flavors: [\n")), "not valid YAML"),
    "not gzip": (b"PK\x03\x04 this is a zip", "not a tar.gz archive"),
}  # fmt: skip


def _upload(hub: TeamHub, name: str, body: Any, token: str | None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/gzip", **headers}
    if token is not None:
        sent["Authorization"] = f"token {token}"
    url = f"{hub.service_url}api/v1/models/{name}/versions"
    return httpx.post(url, content=body, headers=sent, trust_env=False, timeout=120)


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_the_service_refuses_unsafe_or_invalid_archives(team_hub: TeamHub, service_side: MLOps, case: str) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    body, expected = BAD_ARCHIVES[case]
    answer = _upload(team_hub, name, body, team_hub.tokens["alice"])
    assert answer.status_code == 400, answer.text
    assert expected in answer.json()["message"], answer.json()
    with pytest.raises(NotFound):
        service_side.registry.model(name)


def test_uploads_need_a_token_and_stay_under_the_cap(team_hub: TeamHub, service_side: MLOps) -> None:
    name = f"big-{uuid.uuid4().hex[:8]}"
    small = _archive(_file("MLmodel", MLMODEL))
    no_token = _upload(team_hub, name, small, None)
    assert no_token.status_code == 401 and "hub token" in no_token.json()["message"]
    wrong = _upload(team_hub, name, small, "not-a-token")
    assert wrong.status_code == 401 and "does not know this token" in wrong.json()["message"]

    cap = MAX_UPLOAD_MB * 1024 * 1024
    # a declared length past the cap is refused before a byte of the body is read (http.client sends headers only;
    # straight to the service: the hub's proxy waits for a body before it forwards anything)
    url = urlsplit(f"{team_hub.service.url}api/v1/models/{name}/versions")
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        connection.putrequest("POST", url.path)
        connection.putheader("Authorization", f"token {team_hub.tokens['alice']}")
        connection.putheader("Content-Type", "application/gzip")
        connection.putheader("Content-Length", str(cap + 1))
        connection.endheaders()
        declared = connection.getresponse()
        assert declared.status == 413, declared.read()
        assert "larger than the service accepts" in json.loads(declared.read())["message"]
    finally:
        connection.close()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the service counts while streaming to disk
        block = b"\0" * (256 * 1024)
        for _ in range(cap // len(block) + 2):
            yield block

    streamed = _upload(team_hub, name, chunks(), team_hub.tokens["alice"])
    assert streamed.status_code == 413, streamed.text
    assert f"({MAX_UPLOAD_MB} MB)" in streamed.json()["message"]
    with pytest.raises(NotFound):
        service_side.registry.model(name)


def test_a_registration_call_with_an_object_is_refused(team_hub: TeamHub) -> None:
    answer = team_hub.call(team_hub.tokens["alice"], "register", {"not": "a uri"}, "x-model")
    assert answer.status_code == 400 and "runs:/ or models:/ URI" in answer.json()["message"]
    assert json.loads(answer.text)["error_code"] == "INVALID_REQUEST"


def test_the_service_and_the_embedded_facade_register_alike(team_hub: TeamHub, trained_model: Any, iris: Any) -> None:
    """The same model registered through the service from the test process's client (what a kernel runs) and with
    the embedded facade on the same store and MLflow: consecutive versions of one model, both recorded as alice's.

    (What the service adds to a registration is measured by ``benchmarks/team_mode.py``.)
    """
    from jupyter_mlops.core.principal import Principal
    from jupyter_mlops.hub.client import RemoteMLOps

    config = MLOpsConfig(
        data_dir=team_hub.service_config["JUPYTER_MLOPS_DATA_DIR"],
        store_url=team_hub.service_config["JUPYTER_MLOPS_STORE_URL"],
    )
    embedded = MLOps(config, principal=Principal(name="alice", scopes=frozenset({"custom:mlops:deploy"})))
    remote = RemoteMLOps(team_hub.service_url, token=team_hub.tokens["alice"])
    X, y = iris
    name = f"alike-reg-{uuid.uuid4().hex[:6]}"
    try:
        first = embedded.register(trained_model, name, X, y)
        second = remote.register(trained_model, name, X, y)
    finally:
        remote.close()
        embedded.close()
    assert (int(first.version), int(second.version)) == (1, 2)
    assert first.tags["mlops.registered_by"] == second.tags["mlops.registered_by"] == "alice"
