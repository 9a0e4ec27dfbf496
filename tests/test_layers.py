"""The layering of STYLE.md section 1: a module imports only from its own layer or the layers below."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "ganvas"

# Top-level name under ganvas -> layer.
LAYERS = {
    "__init__": 0, "__main__": 6, "config": 0, "registry": 0, "errors": 0, "utils": 0,
    "data": 1, "nn": 1, "augment": 1, "losses": 1,
    "models": 2,
    "checkpoint": 3, "metrics": 3,
    "train": 4, "generate": 4,
    "apps": 5,
    "cli": 6, "studio": 6,
}
NEVER = {("train", "generate"), ("generate", "train")}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "ganvas":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules():
    return sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_respect_layers(path):
    rel = path.relative_to(PKG)
    own = rel.parts[0].removesuffix(".py")
    assert own in LAYERS, f"{rel}: add {own!r} to the layer table (STYLE.md section 1)"
    for module in _imports(path):
        other = _part(module)
        if other is None or other == own:
            continue
        if own == "__init__" and other in ("generate",):  # ganvas.load() imports lazily, inside the function
            continue
        assert other in LAYERS, f"{rel} imports unknown part {module}"
        assert LAYERS[other] <= LAYERS[own], f"{rel} (L{LAYERS[own]}) imports {module} (L{LAYERS[other]})"
        assert (own, other) not in NEVER, f"{rel}: {own} must never import {other}"


def test_import_ganvas_is_cheap():
    import subprocess
    import sys

    code = "import sys, ganvas; print(','.join(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import ganvas pulled in {out}"
