"""Team mode end to end: kernels are untrusted clients of the MLOps hub service (issue 13's Tests list).

The tests run in order on one hub (one per session) and build on each other, as a team's day would.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.waiting import wait_until

from .conftest import TeamHub

pytestmark = pytest.mark.slow

STATE: dict[str, Any] = {}
ROWS = {
    "dataframe_split": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
    }
}


def test_kernels_hold_no_store_credentials_and_cannot_reach_the_store(team_hub: TeamHub) -> None:
    password = team_hub.store_url.split(":")[2].split("@")[0]
    with team_hub.kernel("alice") as kernel:
        found = kernel.json(
            "import json, os\n"
            f"pw = {password!r}\n"
            "leaks = sorted(k for k, v in os.environ.items() if pw in v or 'postgresql' in v)\n"
            "import psycopg\n"
            "try:\n"
            f"    psycopg.connect('host=127.0.0.1 port={team_hub.pg.port} dbname=mlops user=mlops',\n"
            "                    connect_timeout=5)\n"
            "    store = 'connected'\n"
            "except psycopg.OperationalError as exc:\n"
            "    store = str(exc)\n"
            "try:\n"
            f"    psycopg.connect('host=127.0.0.1 port={team_hub.pg.port} dbname=mlops user=postgres',\n"
            "                    connect_timeout=5)\n"
            "    superuser = 'connected'\n"
            "except psycopg.OperationalError as exc:\n"
            "    superuser = str(exc)\n"
            "print(json.dumps({'leaks': leaks, 'store': store, 'superuser': superuser,\n"
            "                  'service': os.environ.get('JUPYTER_MLOPS_SERVICE_URL'),\n"
            "                  'token': bool(os.environ.get('JUPYTERHUB_API_TOKEN')),\n"
            "                  'mlops': sorted(k for k in os.environ if k.startswith('JUPYTER_MLOPS_'))}))\n"
        )
    assert found["leaks"] == [], found
    assert found["mlops"] == [
        "JUPYTER_MLOPS_DEFAULT_TARGET",
        "JUPYTER_MLOPS_EXPERIMENT_NAME",
        "JUPYTER_MLOPS_MLFLOW_UI_URL",
        "JUPYTER_MLOPS_SERVICE_TIMEOUT",
        "JUPYTER_MLOPS_SERVICE_URL",
    ], found
    assert "password" in found["store"] and "password" in found["superuser"], found
    assert found["service"] == team_hub.service_url and found["token"]


def test_protected_deploy_needs_another_users_approval(team_hub: TeamHub) -> None:
    with team_hub.kernel("alice") as kernel:
        result = kernel.json(
            "import json, jupyter_mlops\n"
            "from jupyter_mlops.core.errors import MLOpsError\n"
            "out = {'whoami': jupyter_mlops.client().whoami().model_dump(mode='json')}\n"
            "try:\n"
            "    jupyter_mlops.deploy('iris/1', name='churn-prod')\n"
            "except MLOpsError as exc:\n"
            "    out['deploy'] = [exc.status, exc.message]\n"
            "approval = jupyter_mlops.client().request_approval(\n"
            "    'deploy', 'deployment/churn-prod', {'model': 'iris/1'})\n"
            "out['approval'] = approval.id\n"
            "try:\n"
            "    jupyter_mlops.client().grant(approval.id)\n"
            "except MLOpsError as exc:\n"
            "    out['self_grant'] = [exc.status, exc.message]\n"
            "try:\n"
            "    jupyter_mlops.client().grant(approval.id, actor='carol')\n"
            "except MLOpsError as exc:\n"
            "    out['as_carol'] = [exc.status, exc.message]\n"
            "print(json.dumps(out))\n"
        )
        magic_out, magic_err = kernel.run("%load_ext jupyter_mlops\n%deploy iris/1 --as other-prod")
    assert result["whoami"]["user"] == "alice", result
    assert result["deploy"][0] == 403 and "protected" in result["deploy"][1], result
    assert result["self_grant"][0] == 403, result
    assert result["as_carol"][0] == 403 and "identity comes from the hub token" in result["as_carol"][1], result
    assert "protected" in magic_err and "Traceback" not in magic_err, (magic_out, magic_err)
    STATE["approval"] = result["approval"]


def test_carol_grants_through_her_scope_and_alices_deploy_serves(team_hub: TeamHub) -> None:
    # carol is an approver only through the hub: her group's role carries custom:mlops:approve
    response = team_hub.rest("carol", "POST", f"/approvals/{STATE['approval']}/grant", json={})
    assert response.status_code in (200, 201), response.text
    with team_hub.kernel("alice") as kernel:
        result = kernel.json(
            "import json, jupyter_mlops\n"
            "d = jupyter_mlops.deploy('iris/1', name='churn-prod')\n"
            f"rows = {ROWS['dataframe_split']!r}\n"
            "import pandas as pd\n"
            "X = pd.DataFrame(rows['data'], columns=rows['columns'])\n"
            "token = jupyter_mlops.client().issue_token('churn-prod')\n"
            "print(json.dumps({'state': str(d.state.value), 'owner': d.owner, 'url': d.url, 'token': token,\n"
            "                  'predictions': jupyter_mlops.predict('churn-prod', X)}))\n"
        )
    assert result["state"] == "ready" and result["owner"] == "alice", result
    assert len(result["predictions"]) == 2
    STATE.update(url=result["url"], token=result["token"], predictions=result["predictions"])
    answer = httpx.post(
        result["url"], json=ROWS, headers={"Authorization": f"Bearer {result['token']}"}, trust_env=False, timeout=30
    )
    assert answer.status_code == 200, answer.text


def test_bob_cannot_change_or_call_alices_deployment(team_hub: TeamHub) -> None:
    changed = team_hub.rest("bob", "DELETE", "/deployments/churn-prod")
    assert changed.status_code == 403, changed.text
    traffic = team_hub.call(team_hub.tokens["bob"], "undeploy", "churn-prod")
    assert traffic.status_code == 403 and "alice" in traffic.json()["message"], traffic.text
    anonymous = httpx.post(STATE["url"], json=ROWS, trust_env=False, timeout=30)
    assert anonymous.status_code == 401, anonymous.text
    # bob reaching alice's server still acts as bob, never with her token: refused
    visiting = team_hub.rest("alice", "GET", "/deployments", token=team_hub.tokens["bob"])
    assert visiting.status_code in (403, 404), visiting.text


def test_bad_tokens_are_refused_with_a_message(team_hub: TeamHub) -> None:
    missing = team_hub.call(None, "deployments")
    assert missing.status_code == 401 and "token" in missing.json()["message"], missing.text
    unknown = team_hub.call("not-a-token", "deployments")
    assert unknown.status_code == 401 and "expired" in unknown.json()["message"], unknown.text
    narrow = team_hub.hub_api("POST", "/users/bob/tokens", json={"scopes": ["read:users:name!user"], "note": "x"})
    assert narrow.status_code == 201, narrow.text
    foreign = team_hub.call(narrow.json()["token"], "deployments")
    assert foreign.status_code == 403 and "access:services" in foreign.json()["message"], foreign.text
    expiring = team_hub.hub_api("POST", "/users/bob/tokens", json={"expires_in": 1, "note": "short"})
    token = expiring.json()["token"]
    answer = wait_until(
        lambda: (a := team_hub.call(token, "deployments")).status_code != 200 and a,
        15,
        "the expired token refused",
        0.5,
    )
    assert answer.status_code == 401, answer.text
    # acting for another user is refused and recorded
    spoof = team_hub.call(team_hub.tokens["bob"], "grant", STATE["approval"], actor="erin")
    assert spoof.status_code == 403, spoof.text
    events = team_hub.call(team_hub.tokens["erin"], "audit_events", "service/grant")
    assert events.status_code == 200, events.text
    assert any(e["actor"] == "bob" and e["outcome"] == "refused" for e in events.json()["result"]), events.text


def test_stopping_alices_server_leaves_her_deployment_answering(team_hub: TeamHub) -> None:
    assert team_hub.hub_api("DELETE", "/users/alice/server").status_code in (202, 204)
    wait_until(
        lambda: not team_hub.hub_api("GET", "/users/alice").json().get("servers"), 60, "alice's server stopped", 0.3
    )
    answer = httpx.post(
        STATE["url"], json=ROWS, headers={"Authorization": f"Bearer {STATE['token']}"}, trust_env=False, timeout=30
    )
    assert answer.status_code == 200, answer.text


def test_a_deleted_ledger_tail_is_named_by_verify(team_hub: TeamHub) -> None:
    verified = team_hub.call(team_hub.tokens["erin"], "verify_audit")
    assert verified.status_code == 200 and verified.json()["result"]["ok"], verified.text
    dsn = team_hub.pg.superuser_dsn.replace("dbname=postgres", "dbname=mlops")
    with psycopg.connect(dsn, autocommit=True) as connection:
        last = connection.execute("SELECT max(seq) FROM mlops_audit").fetchone()[0]
        connection.execute("DELETE FROM mlops_audit WHERE seq > %s", (last - 2,))
    report = team_hub.call(team_hub.tokens["erin"], "verify_audit").json()["result"]
    assert not report["ok"] and report["first_broken"] == last - 1, report
    assert f"Entries {last - 1} to {last} are missing" in report["message"], report


def test_service_down_gives_clear_errors_and_a_restart_serves_again(team_hub: TeamHub) -> None:
    team_hub.service.kill()
    try:
        rest = team_hub.rest("bob", "GET", "/deployments")
        assert rest.status_code == 503 and "not answering" in rest.json()["message"], rest.text
        with team_hub.kernel("bob") as kernel:
            out, err = kernel.run(
                "import jupyter_mlops\n"
                "from jupyter_mlops.core.errors import Unavailable\n"
                "try:\n"
                "    jupyter_mlops.deployments()\n"
                "except Unavailable as exc:\n"
                "    print('API:', exc.message)\n"
            )
            assert "API: The MLOps service" in out and "not answering" in out, (out, err)
            magic_out, magic_err = kernel.run("%load_ext jupyter_mlops\n%deployments")
            assert "not answering" in magic_err and "Traceback" not in magic_err, (magic_out, magic_err)
        # the deployment keeps serving meanwhile: the daemon belongs to the service host, not the service process
        answer = httpx.post(
            STATE["url"], json=ROWS, headers={"Authorization": f"Bearer {STATE['token']}"}, trust_env=False, timeout=30
        )
        assert answer.status_code == 200, answer.text
    finally:
        team_hub.service.start()
    listed = team_hub.call(team_hub.tokens["erin"], "deployments")
    assert listed.status_code == 200, listed.text
    assert [d["name"] for d in listed.json()["result"]] == ["churn-prod"]
    frame = {**ROWS["dataframe_split"], "index": [0, 1]}
    predicted = team_hub.call(team_hub.tokens["alice"], "predict", "churn-prod", {"__frame__": frame})
    assert predicted.status_code == 200 and predicted.json()["result"] == STATE["predictions"], predicted.text


def test_the_service_and_the_embedded_facade_serve_alike(team_hub: TeamHub) -> None:
    """The same user deploys the same version through the embedded facade and through the service (same store,
    MLflow and serving daemon): both deployments answer the same predictions, and each facade sees the other's.

    (What the service adds to a deploy and a prediction is measured by ``benchmarks/team_mode.py``.)
    """
    import pandas as pd

    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.principal import Principal
    from jupyter_mlops.core.service import MLOps
    from jupyter_mlops.hub.client import RemoteMLOps

    config = MLOpsConfig(
        data_dir=team_hub.service_config["JUPYTER_MLOPS_DATA_DIR"],
        store_url=team_hub.service_config["JUPYTER_MLOPS_STORE_URL"],
        isolate_users=True,
        require_deployment_token=True,
        isolate_deployments=True,  # as the service (its default in team mode)
    )
    embedded = MLOps(config, principal=Principal(name="erin", scopes=frozenset({"custom:mlops:admin"})))
    remote = RemoteMLOps(team_hub.service_url, token=team_hub.tokens["erin"])
    X = pd.DataFrame(ROWS["dataframe_split"]["data"], columns=ROWS["dataframe_split"]["columns"])
    try:
        embedded.deploy("iris/1", name="alike-e")
        remote.deploy("iris/1", name="alike-s")
        assert {"alike-e", "alike-s"} <= {d.name for d in remote.deployments()}
        assert {"alike-e", "alike-s"} <= {d.name for d in embedded.deployments()}
        for facade in (embedded, remote):
            for name in ("alike-e", "alike-s"):
                assert list(facade.predict(name, X)) == STATE["predictions"], (facade, name)
        remote.undeploy("alike-e")
        embedded.undeploy("alike-s")
        assert not {"alike-e", "alike-s"} & {d.name for d in remote.deployments()}
    finally:
        remote.close()
        embedded.close()
