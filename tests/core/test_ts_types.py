"""One source of truth: the sidebar's generated TypeScript types are what core's pydantic models produce."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_ts_types", ROOT / "scripts" / "gen_ts_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_typescript_types_match_the_models() -> None:
    generator = _generator()
    committed = (ROOT / "src" / "generated" / "models.ts").read_text()
    assert committed == generator.generate(), "src/generated/models.ts is stale: run python scripts/gen_ts_types.py"


def test_the_types_follow_the_models_fields_and_optionality() -> None:
    text = _generator().generate()
    assert "export interface DeploymentHealth {\n  deployment?: string | null;\n  score: number | null;\n" in text
    assert "  colour: 'green' | 'amber' | 'red' | 'unknown';" in text
    assert "export interface MonitoringReportData {" in text and "  ops: OpsBucket[];" in text
    assert "  bins: (number | string)[];" in text
