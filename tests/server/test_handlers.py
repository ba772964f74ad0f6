"""REST API of the server extension, against real MLflow, a real daemon and real HTTP."""

from __future__ import annotations

import pytest

from jupyter_mlops import __version__

from ..waiting import await_until


async def test_version(api) -> None:
    status, body, _ = await api("GET", "version")
    assert (status, body) == (200, {"version": __version__})


async def test_catalog(api, iris_version) -> None:
    # Other tests' models share the session's store: read every page of the filtered catalog.
    items: list[dict] = []
    params: dict[str, str] = {"filter": "iris", "max_results": "100"}
    while True:
        status, page, _ = await api("GET", "models", params=params)
        assert status == 200
        items += page["items"]
        if not page.get("next_page_token"):
            break
        params["page_token"] = page["next_page_token"]
    names = [m["name"] for m in items]
    assert "iris" in names and all("iris" in n.lower() for n in names), names
    iris = next(m for m in items if m["name"] == "iris")
    assert iris["aliases"]["champion"] == iris_version.version

    status, model, _ = await api("GET", "models", "iris")
    assert status == 200 and iris_version.version in [v["version"] for v in model["versions"]]

    status, version, _ = await api("GET", "models", "iris", "versions", iris_version.version)
    assert status == 200 and version["signature"]["inputs"][0]["name"] == "sepal_length"

    status, versions, _ = await api("GET", "models", "iris", "versions")
    assert status == 200 and versions["total"] >= 1


async def test_alias_put_and_delete(api, mlops, trained_model, iris) -> None:
    mlops.register(trained_model, "aliases-rest", iris[0].head(20))
    status, version, _ = await api("PUT", "models", "aliases-rest", "aliases", "staging", body={"version": "1"})
    assert status == 200 and "staging" in version["aliases"]
    status, _, _ = await api("DELETE", "models", "aliases-rest", "aliases", "staging")
    assert status == 204
    status, body, _ = await api("DELETE", "models", "aliases-rest", "aliases", "staging")
    assert status == 404 and "no alias" in body["message"]


@pytest.mark.parametrize(
    ("method", "parts", "body", "status", "fragment"),
    [
        ("GET", ("models", "nope"), None, 404, "not found"),
        ("GET", ("models", "iris", "versions", "77"), None, 404, "not found"),
        ("GET", ("models", "iris", "versions", "abc"), None, 400, "positive integers"),
        ("GET", ("models", "bad name"), None, 400, "Invalid model name"),
        ("GET", ("models", "a..b"), None, 400, ".."),
        ("GET", ("models", "x" * 64), None, 400, "limit is 63"),
        ("GET", ("deployments", "Bad_Name"), None, 400, "deployment name"),
        ("GET", ("deployments", "nothing-here"), None, 404, "No deployment"),
        ("POST", ("deployments",), {"model": "s3://bucket/model"}, 400, "Unsupported model reference"),
        ("POST", ("deployments",), {"model": "iris/99"}, 404, "not found"),
        ("POST", ("deployments",), {"model": "iris", "name": "UPPER"}, 400, "deployment name"),
        ("POST", ("deployments",), {}, 400, "model"),
        ("POST", ("deployments",), {"model": "iris", "unexpected": 1}, 400, "unexpected"),
        ("POST", ("deployments",), "not json", 400, "not valid JSON"),
        ("POST", ("deployments",), "[1, 2]", 400, "JSON object"),
        ("PUT", ("models", "iris", "aliases", "champion"), {}, 400, "version"),
        ("POST", ("deployments", "nothing-here", "predict"), {"inputs": [[1]]}, 404, "No deployment"),
        ("GET", ("models",), None, 400, "max_results"),
    ],
)
async def test_bad_input_gets_4xx_with_a_message(api, iris_version, method, parts, body, status, fragment) -> None:
    params = {"max_results": "0"} if parts == ("models",) else None
    code, reply, _ = await api(method, *parts, body=body, params=params)
    assert code == status, reply
    assert fragment.lower() in reply["message"].lower()
    assert "Traceback" not in str(reply)


async def test_wrong_content_type_is_415(api, iris_version) -> None:
    code, reply, _ = await api(
        "POST", "deployments", body="model=iris", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert code == 415 and "application/json" in reply["message"]


async def test_deploy_predict_through_proxy_and_undeploy(api, iris_version, trained_model, iris) -> None:
    X, _ = iris
    code, created, response = await api("POST", "deployments", body={"model": "iris@champion", "name": "iris-rest"})
    assert code == 202
    assert response.headers["Location"].endswith("/mlops/api/deployments/iris-rest")
    assert created["model_version"] == iris_version.version

    async def settled() -> dict | None:
        _, current, _ = await api("GET", "deployments", "iris-rest")
        return current if current["state"] in ("ready", "failed") else None

    deployment = await await_until(settled, 120, "the deployment ready or failed")
    assert deployment["state"] == "ready", deployment
    assert [s["name"] for s in deployment["steps"]] == ["resolving", "loading", "warming", "ready"]
    assert deployment["url"].startswith("http://127.0.0.1:")

    code, listing, _ = await api("GET", "deployments")
    assert "iris-rest" in [d["name"] for d in listing["items"]]

    rows = X.head(5)
    payload = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    code, reply, _ = await api("POST", "deployments", "iris-rest", "predict", body=payload)
    assert code == 200
    assert reply["predictions"] == trained_model.predict(rows).tolist()

    code, reply, _ = await api(
        "POST", "deployments", "iris-rest", "predict", body={"dataframe_records": [{"sepal_length": 1.0}]}
    )
    assert code == 400
    assert "sepal_width" in reply["message"]

    code, _, _ = await api("POST", "deployments", body={"model": "iris@champion", "name": "iris-rest"})
    assert code == 409

    code, _, _ = await api("DELETE", "deployments", "iris-rest")
    assert code == 204
    code, _, _ = await api("DELETE", "deployments", "iris-rest")
    assert code == 204  # idempotent
    code, _, _ = await api("GET", "deployments", "iris-rest")
    assert code == 404


async def test_identity_comes_from_authentication_never_from_the_request(api, mlops) -> None:
    # Given a token login (outside a hub: the server's own user) that names someone else in the query and body
    status, me, _ = await api("GET", "whoami", params={"actor": "mallory", "user": "mallory"})
    assert status == 200 and me["user"] == me["owner"] != "mallory"
    status, approval, _ = await api(
        "POST",
        "approvals",
        body={"action": "deploy", "target": "deployment/iris", "payload": {"model": "iris/1"}, "actor": "mallory"},
    )
    # Then the request is refused as malformed or recorded as the authenticated user, never as mallory
    if status == 201:
        assert approval["requested_by"] == me["user"]
        assert {e.actor for e in mlops.audit_events(f"approval/{approval['id']}")} == {me["user"]}
    else:
        assert status == 400 and "actor" in approval["message"]


def test_a_hub_users_groups_and_mlops_scopes_make_their_principal() -> None:
    from jupyter_server.auth.identity import User

    from jupyter_mlops.core.principal import Principal
    from jupyter_mlops.server.identity import principal_of

    owner = Principal(name="alice")
    hub_user = User(username="carol")
    hub_user.hub_user = {  # type: ignore[attr-defined]
        "name": "carol",
        "groups": ["reviewers"],
        "scopes": ["access:servers!user=alice", "custom:mlops:approve", "custom:mlops:deploy!user=carol"],
    }
    assert principal_of(hub_user, owner) == Principal(
        name="carol", groups=("reviewers",), scopes=frozenset({"custom:mlops:approve", "custom:mlops:deploy"})
    )
    assert principal_of(User(username="bob"), owner) == Principal(name="bob")


async def test_a_body_nested_too_deep_is_refused_before_parsing(api) -> None:
    deep = '{"model": "iris", "batching": ' + "[" * 40 + "]" * 40 + "}"
    for method, parts in (
        ("POST", ("deployments",)),
        ("POST", ("approvals",)),
        ("PUT", ("deployments", "x", "traffic")),
    ):
        code, reply, _ = await api(method, *parts, body=deep)
        assert code == 400 and "nested more than 32 levels" in reply["message"], (parts, reply)
    # 32 levels are fine (refused later, for what they are)
    code, reply, _ = await api("POST", "approvals", body='{"action": "deploy", "target": ' + "[" * 31 + "]" * 31 + "}")
    assert code == 400 and "Send {" in reply["message"]
