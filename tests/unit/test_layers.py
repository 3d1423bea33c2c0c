"""The dependency rule, read from the code's own imports (``ast``, nothing is imported).

Three rings, imports only point down (or sideways inside a ring where allowed):

    app        rag/api  rag/cli  rag/jobs  rag/runtime.py  rag/endpoint.py  eval  bench
        |
    libraries  indexers  rerankers  translators  rag/search
        |
    kernel     rag/errors.py  types  settings  logging_setup  lexical  langid  rag/models  rag/store
               rag/media (decoding images and audio windows)

``translators`` stands alone: of mmrag it imports only itself and ``rag/errors.py``.
Among the libraries only ``rag/search`` may use ``rerankers`` (fusion and calibration).
No two files import each other, directly or in a loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rag", "indexers", "rerankers", "translators", "eval", "bench")

KERNEL, LIBRARY, APP = 0, 1, 2
RING_NAMES = {KERNEL: "kernel", LIBRARY: "library", APP: "app"}

# Longest prefix wins; a prefix ending in "/" is a folder, anything else one module.
PARTS: dict[str, tuple[str, int]] = {
    "rag/__init__.py": ("rag", KERNEL),
    "rag/errors.py": ("rag/errors", KERNEL),
    "rag/types.py": ("rag/types", KERNEL),
    "rag/settings.py": ("rag/settings", KERNEL),
    "rag/logging_setup.py": ("rag/logging_setup", KERNEL),
    "rag/lexical.py": ("rag/lexical", KERNEL),
    "rag/langid.py": ("rag/langid", KERNEL),
    "rag/models/": ("rag/models", KERNEL),
    "rag/store/": ("rag/store", KERNEL),
    "rag/media/": ("rag/media", KERNEL),
    "rag/assets/": ("rag/assets", KERNEL),
    "indexers/": ("indexers", LIBRARY),
    "rerankers/": ("rerankers", LIBRARY),
    "translators/": ("translators", LIBRARY),
    "rag/search/": ("rag/search", LIBRARY),
    "rag/runtime.py": ("rag/runtime", APP),
    "rag/endpoint.py": ("rag/endpoint", APP),
    "rag/api/": ("rag/api", APP),
    "rag/cli/": ("rag/cli", APP),
    "rag/jobs/": ("rag/jobs", APP),
    "rag/web/": ("rag/web", APP),
    "eval/": ("eval", APP),
    "bench/": ("bench", APP),
}

# Library -> library imports that the design allows (everything else sideways is refused).
LIBRARY_PEERS: dict[str, frozenset[str]] = {"rag/search": frozenset({"rerankers"})}
# What translators/ may take from mmrag outside itself.
TRANSLATORS_MAY_USE = frozenset({"rag/errors.py"})


def part_of(path: str) -> tuple[str, int]:
    best = ""
    for prefix in PARTS:
        matches = path.startswith(prefix) if prefix.endswith("/") else path == prefix
        if matches and len(prefix) > len(best):
            best = prefix
    if not best:
        raise AssertionError(f"{path} is on no part of the layer map: add it to PARTS")
    return PARTS[best]


def source_files() -> list[str]:
    files: list[str] = []
    for package in PACKAGES:
        files += [p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py")]
    return sorted(f for f in files if "/." not in f)


def module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(module: str, known: dict[str, str]) -> str | None:
    """The file a dotted module names: itself, or the nearest package above it."""
    while module:
        if module in known:
            return known[module]
        module = module.rpartition(".")[0]
    return None


def imported_modules(path: str, known: dict[str, str]) -> Iterator[str]:
    """Dotted names imported by a file, TYPE_CHECKING and function-level imports included."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    package = module_name(path)
    if not path.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # "from pkg import module" names pkg/module.py; "from pkg import name", pkg.
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in known else base


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    known = {module_name(f): f for f in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        targets: set[str] = set()
        for module in imported_modules(path, known):
            if module.split(".")[0] not in PACKAGES:
                continue
            target = resolve(module, known)
            if target is not None and target != path:
                targets.add(target)
        graph[path] = targets
    return graph


def violations(graph: dict[str, set[str]]) -> list[str]:
    found: list[str] = []
    for source, targets in sorted(graph.items()):
        source_part, source_ring = part_of(source)
        for target in sorted(targets):
            target_part, target_ring = part_of(target)
            if source_part == target_part:
                continue
            if source_part == "translators":
                if target not in TRANSLATORS_MAY_USE:
                    found.append(f"{source} -> {target}: translators/ stands alone")
                continue
            if target_ring > source_ring:
                found.append(
                    f"{source} -> {target}: {RING_NAMES[source_ring]} imports "
                    f"{RING_NAMES[target_ring]} (imports point down)"
                )
            elif target_ring == source_ring == LIBRARY and target_part not in LIBRARY_PEERS.get(
                source_part, frozenset()
            ):
                found.append(f"{source} -> {target}: library {source_part} uses {target_part}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_file_is_on_a_part(graph: dict[str, set[str]]) -> None:
    for path in graph:
        part_of(path)


def test_imports_point_down(graph: dict[str, set[str]]) -> None:
    assert violations(graph) == []


def test_no_file_level_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_the_reader_sees_upward_imports() -> None:
    """The checker itself: an upward import and a loop are caught."""
    fake = {
        "rag/store/base.py": {"rag/api/app.py"},
        "rag/api/app.py": {"rag/store/base.py"},
        "translators/service.py": {"rag/settings.py", "rag/errors.py"},
        "rag/search/pipeline.py": {"rerankers/fusion.py", "indexers/image.py"},
    }
    assert violations(fake) == [
        "rag/search/pipeline.py -> indexers/image.py: library rag/search uses indexers",
        "rag/store/base.py -> rag/api/app.py: kernel imports app (imports point down)",
        "translators/service.py -> rag/settings.py: translators/ stands alone",
    ]
    assert cycles(fake) == [["rag/api/app.py", "rag/store/base.py"]]
