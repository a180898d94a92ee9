"""Every module imports only from its own layer or those below it (docs/DESIGN in README, "Layout").

Checked statically, every import statement anywhere in a module (also those inside functions, which would hide
a cycle at import time), so a module does not have to be importable to be checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Bottom first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("credsignal.core",)),
    ("reference", ("credsignal.reference", "parsers")),
    ("steps", ("jobs", "expectations", "synth")),
    ("glue", ("credsignal.pipeline", "credsignal.alerts")),
    ("doors", ("credsignal.entry", "dags")),
]
PACKAGES = ("credsignal", "parsers", "jobs", "expectations", "synth", "dags")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def imported_modules(path: Path) -> set[str]:
    """The project modules `path` imports: absolute names, relative imports resolved against its package."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from credsignal import pipeline` imports the submodule credsignal.pipeline
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def project_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))


def test_every_project_module_has_a_layer():
    assert [module_name(path) for path in project_modules() if layer_of(module_name(path)) is None] == ["credsignal"]


@pytest.mark.parametrize("path", project_modules(), ids=module_name)
def test_imports_point_downward(path):
    own = layer_of(module_name(path))
    if own is None:  # the package's own __init__: a docstring and a version
        assert imported_modules(path) == set()
        return
    upward = sorted(name for name in imported_modules(path)
                    if (target := layer_of(name)) is not None and target > own)
    assert not upward, f"{module_name(path)} ({LAYERS[own][0]}) imports from a layer above it: {upward}"


@pytest.mark.parametrize(("module", "layer"), [
    ("credsignal.core.lake", "core"),
    ("credsignal.reference.degrees", "reference"),
    ("parsers.linkedin.parser", "reference"),
    ("jobs.readout.build", "steps"),
    ("credsignal.pipeline", "glue"),
    ("credsignal.entry.cli", "doors"),
    ("dags.features_daily", "doors"),
    ("credsignal.pipelines", None),  # a prefix must end at a dot
])
def test_layer_of(module, layer):
    index = layer_of(module)
    assert (None if index is None else LAYERS[index][0]) == layer


def test_an_upward_import_inside_a_function_is_found(tmp_path, monkeypatch):
    module = REPO_ROOT / "credsignal" / "core" / "_layer_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, **_: "def f():\n    from credsignal import pipeline\n")
    assert "credsignal.pipeline" in imported_modules(module)
    assert layer_of("credsignal.pipeline") > layer_of(module_name(module))
