"""Dependencies run one way: neither the package nor the benchmarks import the tests, and the
pipeline never imports training (training builds on the pipeline). Checked on every import
statement, those inside functions included."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

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


def module_graph() -> dict[str, set[str]]:
    """Package module -> the package modules it imports (inside functions too; `from a import b`
    counts as importing a.b where that is a module, else a)."""
    mods = {}
    for folder in ("pipeline", "training", "corpusprep"):
        for p in sorted((REPO / folder).rglob("*.py")) if (REPO / folder).exists() else []:
            name = ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            mods[name] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(mods)
                graph[m] |= (subs or ({node.module} & set(mods))) - {m}
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name in mods and a.name != m}
    return graph


def test_no_import_cycle_among_the_package_modules():
    graph, state, cycles = module_graph(), {}, []

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(path[path.index(n):] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The walk above on a planted cycle (so the test can fail)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    monkeypatch.setattr(sys.modules[__name__], "module_graph", lambda: graph)
    with pytest.raises(AssertionError, match="a -> b -> c -> a"):
        test_no_import_cycle_among_the_package_modules()


UPWARD = {  # a module of the left-hand package never imports one of the right-hand ones
    "pipeline.stages": ("pipeline.card", "pipeline.runner", "pipeline.cli", "pipeline.config"),
    "pipeline.readers": ("pipeline.card", "pipeline.runner", "pipeline.cli", "pipeline.config", "pipeline.stages"),
    "pipeline.settings": ("pipeline.",),
    "pipeline": ("training", "corpusprep"),
    "training": ("corpusprep",),
}


def test_no_upward_import():
    bad = []
    for m, imported in module_graph().items():
        for low, high in UPWARD.items():
            if m == low or m.startswith(low + "."):
                bad += [f"{m} -> {n}" for n in imported if n.startswith(high) and n != m
                        and not (low == "pipeline.settings" and n == "pipeline.errors")]
    assert not bad, bad


def test_the_shard_manifest_is_read_through_its_typed_reader_alone():
    """Its keys are known to pipeline/shard_format.py only (Manifest, ManifestBuilder); elsewhere
    the package reads the typed entries."""
    import re

    keys = re.compile(r'''(manifest|man)\[["']|\[["'](variants|validation)["']\]|\]\[["']budgets["']\]'''
                      r'''|\[["']tokenizer["']\]\[''')
    files = [p for d in ("pipeline", "training", "corpusprep") for p in sorted((REPO / d).rglob("*.py"))
             if p.name != "shard_format.py"]
    bad = [f"{p.relative_to(REPO)}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1)
           if keys.search(line)]
    assert not bad, bad


PACKAGE = ("pipeline", "training", "corpusprep")


def test_modules_are_small():
    """Each module one job: none over 450 lines, the runner (the run's order and resume) under 300."""
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
             for d in PACKAGE for p in files(d)}
    assert {p: n for p, n in sizes.items() if n > 450} == {}
    assert sizes["pipeline/runner.py"] < 300


# Every file and folder name of a run's folders (pipeline/stage_folder.py's docstring lists them).
RUN_FOLDER_NAMES = ("run.json", "report.json", "stats.json", "drops.parquet", "stage.json", "00_read", "_read",
                    "_done", "_sources", "_drops", "_ids", "_state", "_SUCCESS", "prepare_stats.json",
                    "part-*.parquet")


def run_folder_names_outside(files_: list[Path]) -> list[str]:
    """`path:line name` wherever a module other than stage_folder.py spells a run-folder name as
    a string literal (or an f-string's literal part)."""
    hits = []
    for p in files_:
        if p.name == "stage_folder.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in RUN_FOLDER_NAMES:
                hits.append(f"{p.relative_to(REPO) if p.is_relative_to(REPO) else p.name}:{node.lineno} "
                            f"{node.value}")
    return hits


def test_the_run_folder_names_are_spelled_in_one_module():
    hits = run_folder_names_outside([p for d in PACKAGE for p in files(d)])
    # dedup's own summary in its _state folder, a name of the stage's that the run's report shares
    assert [h for h in hits if not (h.startswith("pipeline/stages/dedup.py:") and h.endswith(" report.json"))] == []


def test_the_name_check_sees_a_name(tmp_path):
    p = tmp_path / "m.py"
    p.write_text('def f(d):\n    return d / "stats.json", d / "_state"\n')
    assert run_folder_names_outside([p]) == ["m.py:2 stats.json", "m.py:2 _state"]
