"""Fail if any HTTP verb of the server extension lacks @web.authenticated and @authorized.

Static twin of tests/server/test_auth.py (which calls every route without credentials).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

VERBS = {"get", "post", "put", "patch", "delete", "head", "options"}
REQUIRED = {"authenticated", "authorized"}


def decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def main() -> int:
    problems = []
    for path in sorted(Path("jupyter_mlops/server").glob("*.py")):
        for cls in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in VERBS:
                    missing = REQUIRED - decorator_names(node)
                    if missing:
                        problems.append(
                            f"{path}:{node.lineno} {cls.name}.{node.name} lacks @{', @'.join(sorted(missing))}"
                        )
    for problem in problems:
        print(problem)
    print(f"check_auth: {'FAILED' if problems else 'ok'} ({len(problems)} unauthenticated verb(s))")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
