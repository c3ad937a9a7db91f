#!/usr/bin/env python3
"""Fails when src/'s top-level modules depend on each other in a cycle.

A module's dependencies are the other top-level modules its code names as
`crate::NAME` (in paths and in `use crate::{…}` groups), tests left out.
Prints the graph with -v. Usage: scripts/check-module-graph.py [-v]
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
ROOTS = {"main", "lib"}


def top_modules() -> set[str]:
    names = {p.stem for p in SRC.glob("*.rs")} | {p.name for p in SRC.iterdir() if p.is_dir()}
    return names - ROOTS


def without_tests(text: str) -> str:
    cut = text.find("#[cfg(test)]\nmod tests")
    return text if cut < 0 else text[:cut]


def dependencies(modules: set[str]) -> dict[str, set[str]]:
    graph = {m: set() for m in modules}
    for path in SRC.rglob("*.rs"):
        top = path.relative_to(SRC).parts[0].removesuffix(".rs")
        # A module's tests in a file of their own (`mod tests;`) are tests too.
        if top in ROOTS or path.name == "tests.rs":
            continue
        text = without_tests(path.read_text())
        named = set(re.findall(r"crate::([a-z_][a-z0-9_]*)", text))
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            named |= set(re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)", group))
        graph[top] |= {n for n in named if n in modules and n != top}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    graph = dependencies(top_modules())
    if "-v" in sys.argv:
        for module, deps in sorted(graph.items()):
            print(f"{module} -> {', '.join(sorted(deps)) or '(none)'}")
    found = cycles(graph)
    for component in found:
        edges = "; ".join(f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component)
        print(f"module cycle among {', '.join(component)}: {edges}", file=sys.stderr)
    if found:
        return 1
    print(f"module graph: {len(graph)} top-level modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
