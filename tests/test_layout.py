"""Dependencies run one way: neither the package nor the benchmarks import the tests, and the
pipeline never imports training (training builds on the pipeline). Checked on every import
statement, those inside functions included."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def imports(path: Path) -> set[str]:
    """Top-level package of every module `path` imports."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def files(folder: str) -> list[Path]:
    found = sorted((REPO / folder).rglob("*.py"))
    assert found, folder
    return found


def test_nothing_outside_tests_imports_tests():
    bad = [str(p.relative_to(REPO)) for d in ("pipeline", "training", "benchmarks") for p in files(d)
           if "tests" in imports(p)]
    assert not bad


def test_pipeline_never_imports_training():
    bad = [str(p.relative_to(REPO)) for p in files("pipeline") if "training" in imports(p)]
    assert not bad


def test_the_walk_sees_imports_inside_functions(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from training.sweep import run_sweep\n    import tests.conftest\n")
    assert {"training", "tests"} <= imports(p)


def test_no_function_over_60_lines_in_the_package():
    """Short functions (ruff checks complexity; this checks length, docstrings included)."""
    long = []
    for folder in ("pipeline", "training"):
        for p in files(folder):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > 60:
                        long.append(f"{p.relative_to(REPO)}:{node.lineno} {node.name} ({n} lines)")
    assert not long


def test_importing_the_pipeline_changes_no_process_settings():
    """The trainer imports the pipeline: that must not swap Arrow's memory pool (the allocator
    settings are applied where pipeline work starts)."""
    import subprocess
    import sys

    code = ("import pyarrow as pa; before = pa.default_memory_pool().backend_name\n"
            "import pipeline, pipeline.runner, training.data\n"
            "assert pa.default_memory_pool().backend_name == before, before\n"
            "from pipeline.executor import configure_allocator; configure_allocator()\n"
            "print(before, pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    before, after = out.split()
    assert after == "system" and before != "system"
