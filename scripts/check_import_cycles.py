"""Fail on any import cycle between modules of a package (imports inside functions and TYPE_CHECKING count).

import-linter's contracts (``make lint``) keep the layers; this keeps every module graph acyclic, so any room can
be read, tested and moved without dragging the rest in. Usage: ``python scripts/check_import_cycles.py [PACKAGE]``.
"""

from __future__ import annotations

import sys

import grimp


def cycles(package: str) -> list[list[str]]:
    """The strongly connected components of more than one module (each holds at least one cycle)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    edges = {m: sorted(set(graph.find_modules_directly_imported_by(m)) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan's algorithm, iterative (deep graphs must not hit the recursion limit)
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            child = next(successors, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(found)


def main(argv: list[str]) -> int:
    """Print each cycle's modules and the imports between them; exit 1 if there is any."""
    package = argv[1] if len(argv) > 1 else "jupyter_mlops"
    found = cycles(package)
    if not found:
        print(f"No import cycles in {package}.")
        return 0
    graph = grimp.build_graph(package, cache_dir=None)
    for component in found:
        print(f"Import cycle between {len(component)} modules:")
        members = set(component)
        for module in component:
            for imported in sorted(set(graph.find_modules_directly_imported_by(module)) & members):
                lines = graph.get_import_details(importer=module, imported=imported)
                where = ", ".join(f"line {d['line_number']}" for d in lines) or "?"
                print(f"  {module} -> {imported} ({where})")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
