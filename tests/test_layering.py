"""Who may import what: the studio goes through the pipeline's public modules (the service, its
records and errors, the catalogue), never into the render package, the store implementation or a
backend; the service names no backend module (it asks the registry)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTERNALS = ("pipeline.render", "pipeline.store", "pipeline.backends")


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``, relative ones made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def test_the_studio_uses_only_the_pipelines_public_modules() -> None:
    reaching = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                for path in sorted((ROOT / "studio").glob("*.py"))
                for line, module in imported(path)
                if module in INTERNALS or module.startswith(tuple(m + "." for m in INTERNALS))]
    assert not reaching, "studio/ reaches into pipeline internals:\n" + "\n".join(reaching)


def test_the_service_imports_no_specific_backend() -> None:
    service = ROOT / "pipeline" / "service.py"
    backends = {p.stem for p in (ROOT / "pipeline" / "backends").glob("*.py")}
    specific = [f"line {line}: {module}" for line, module in imported(service)
                if module.startswith("pipeline.backends.") and module.split(".")[2] in backends]
    assert not specific, "pipeline/service.py imports a backend module:\n" + "\n".join(specific)


def test_the_check_sees_relative_imports() -> None:
    """The walker resolves ``from .store import X`` in pipeline/ to pipeline.store (else the
    tests above could pass by not seeing an import)."""
    lines = imported(ROOT / "pipeline" / "service.py")
    assert any(module == "pipeline.store.FlyerStore" for _, module in lines)
    assert any(module == "pipeline.backends.create_backend" for _, module in lines)
