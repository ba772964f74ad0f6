"""api/openapi.yaml describes exactly the routes and verbs the extension serves."""

import re
from pathlib import Path

import yaml

from jupyter_mlops.server.routes import API, route_table

SPEC = yaml.safe_load((Path(__file__).parents[2] / "api" / "openapi.yaml").read_text())


def _served() -> set[tuple[str, str]]:
    served = set()
    for pattern, handler in route_table():
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)[len(API) :]
        for verb in ("get", "post", "put", "patch", "delete"):
            if verb in vars(handler):
                served.add((path, verb))
    return served


def test_spec_matches_routes() -> None:
    documented = {(path, verb) for path, ops in SPEC["paths"].items() for verb in ops if verb != "parameters"}
    assert documented == _served()
