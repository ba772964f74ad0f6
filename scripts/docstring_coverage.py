"""Docstring gate: fail when fewer than ``--min`` percent of the public definitions under the given folders have one.

Counted: public modules, classes, functions and methods (names without a leading underscore; ``__init__`` and
other dunders, nested functions and Alembic migrations are not). Documented: a docstring of its own, or a method
marked ``@override`` (it implements a documented contract, e.g. ``MLOpsAPI``, whose docstring ``help()`` shows), or
a function decorated with ``@_documented_by(...)`` (given the docstring of the method it calls). The style of the
docstrings themselves (Google convention) is ruff's pydocstyle rules. Usage:
``python scripts/docstring_coverage.py --min 90 jupyter_mlops/core jupyter_mlops/server``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

INHERITING_DECORATORS = {"override", "_documented_by"}


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def definitions(path: Path) -> list[tuple[str, bool]]:
    """Every public definition of one file with whether it is documented, as ``(qualified name, documented)``."""
    tree = ast.parse(path.read_text(), str(path))
    found = [(f"{path}", ast.get_docstring(tree) is not None)]

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith("_"):
                continue
            documented = ast.get_docstring(node) is not None or bool(_decorators(node) & INHERITING_DECORATORS)
            found.append((f"{path}:{node.lineno} {prefix}{node.name}", documented))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


def main(argv: list[str]) -> int:
    """Print the coverage per folder and the undocumented definitions; exit 1 under the minimum."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0, help="minimum percentage documented")
    parser.add_argument("--list", action="store_true", help="list the undocumented definitions")
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv[1:])
    failed = False
    for folder in args.folders:
        files = sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)
        found = [d for path in files for d in definitions(path)]
        documented = sum(ok for _, ok in found)
        share = 100.0 * documented / len(found) if found else 100.0
        verdict = "ok" if share >= args.min else f"FAILED (minimum {args.min:.0f}%)"
        print(f"{folder}: {documented}/{len(found)} public definitions documented ({share:.1f}%) {verdict}")
        if args.list or share < args.min:
            for name, ok in found:
                if not ok:
                    print(f"  missing: {name}")
        failed = failed or share < args.min
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
