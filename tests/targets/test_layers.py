"""Core imports nothing from the data plane (issue #14 item 3): no ``serving`` import anywhere in ``core``, counting
imports inside functions; the Ray router is named by an import path that Ray Serve's workers resolve."""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_mlops
from jupyter_mlops.core.targets import ray as ray_target

PACKAGE = Path(jupyter_mlops.__file__).parent
FORBIDDEN = ("serving", "server", "magics", "widgets", "fleet")


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, as absolute names (relative imports resolved against the file's package)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def test_core_imports_no_door_and_no_data_plane() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in (PACKAGE / "core").rglob("*.py")
        for module in imported_modules(path)
        if any(
            module == f"jupyter_mlops.{layer}" or module.startswith(f"jupyter_mlops.{layer}.") for layer in FORBIDDEN
        )
    }
    assert not offenders, sorted(offenders)


def test_the_ray_router_is_named_by_an_import_path_that_resolves() -> None:
    from jupyter_mlops.serving import ray_app  # noqa: F401 - imports only when Ray is installed

    assert ray_target.ROUTER_PATH == "jupyter_mlops.serving.ray_app:Router"
    variant, router = ray_target._router_classes()
    assert router.__module__ == variant.__module__ == "jupyter_mlops.serving.ray_app"
