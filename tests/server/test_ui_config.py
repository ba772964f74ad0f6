"""GET /mlops/api/config: what the sidebar reads to link to the MLflow UI and pick a default target."""

from __future__ import annotations

from typing import Any

import pytest


async def test_config_without_mlflow_ui(api) -> None:
    status, body, _ = await api("GET", "config")
    assert status == 200
    assert body == {"mlflow_ui_url": None, "default_target": "local"}


class TestConfigured:
    @pytest.fixture
    def jp_server_config(self, session_config: Any) -> dict[str, Any]:
        return {
            "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
            "MLOpsConfig": {
                "data_dir": session_config.data_dir,
                "mlflow_ui_url": "http://127.0.0.1:5000",
            },
        }

    async def test_config_reports_the_mlflow_ui(self, api) -> None:
        status, body, _ = await api("GET", "config")
        assert status == 200
        assert body["mlflow_ui_url"] == "http://127.0.0.1:5000"
