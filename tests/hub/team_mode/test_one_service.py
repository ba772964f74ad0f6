"""Issue 13 item 2: one hub service. The MLOps API and the fleet view are the same process behind one entry in
jupyterhub_config.py: under one prefix, checked by one HubOAuth; the fleet needs ``custom:mlops:fleet``."""

from __future__ import annotations

import httpx

from .conftest import TeamHub


def test_the_fleet_view_is_served_by_the_mlops_service(team_hub: TeamHub) -> None:
    def get(user: str, path: str) -> httpx.Response:
        headers = {"Authorization": f"token {team_hub.tokens[user]}"}
        return httpx.get(f"{team_hub.service_url}{path}", headers=headers, trust_env=False, timeout=60)

    # erin holds the fleet scope: the service's fleet API answers her, next to its MLOps API
    assert get("erin", "api/v1/me").json()["name"] == "erin"
    summary = get("erin", "fleet/api/summary")
    assert summary.status_code == 200, summary.text
    assert {"deployments", "health", "never_monitored"} <= set(summary.json())
    assert set(summary.json()["health"]) == {"green", "amber", "red", "unknown"}
    page = get("erin", "fleet/")
    assert page.status_code == 200 and "MLOps fleet" in page.text
    # bob may use the MLOps API but not see every user's deployments
    assert get("bob", "api/v1/me").json()["name"] == "bob"
    refused = get("bob", "fleet/api/deployments")
    assert refused.status_code == 403 and "custom:mlops:fleet" in refused.json()["message"]
    # the same process: stop it and both doors go quiet together
    team_hub.service.kill()
    try:
        for path in ("api/v1/ping", "fleet/api/summary"):
            assert get("erin", path).status_code in (502, 503, 504), path
    finally:
        team_hub.service.start()
    assert get("erin", "fleet/api/summary").status_code == 200
