"""The README cannot drift: every shell block in it runs as written, in order, in a copy of the
checkout (so the commands write nothing into this one: the default config rewrites the committed
card), with this environment's `corpusprep` on the PATH and ../shared beside the copy. A block that
needs a GPU, a cluster, an install or many minutes says so in a marker line above it,
`<!-- readme-test: skip (why) -->`, and is the only kind left out."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tests.conftest import REPO

BLOCK = re.compile(r"(?:<!-- readme-test: skip \((?P<why>[^)]+)\) -->\n)?```bash\n(?P<body>.*?)```", re.S)


def blocks() -> list[tuple[str, str | None]]:
    """(commands, the reason it is skipped or None) for each bash block, in README order."""
    return [(m["body"], m["why"]) for m in BLOCK.finditer((REPO / "README.md").read_text(encoding="utf-8"))]


def test_every_block_that_is_left_out_says_why():
    found = blocks()
    assert len([b for b, why in found if why is None]) >= 4
    for body, why in found:  # installs and cluster commands are never run unmarked
        if why is None:
            assert not re.search(r"^\s*(pip install|make |ray start|torchrun)", body, re.M), body


def test_the_readme_commands_run_as_written(tmp_path, shared_data):
    copy = tmp_path / "corpusprep"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    (tmp_path / "shared").symlink_to(shared_data.parent)
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}")
    for body, why in blocks():
        if why is not None:
            continue
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=copy, env=env, capture_output=True,
                             text=True, timeout=900)
        assert res.returncode == 0, f"README block failed:\n{body}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert (copy / "data_cards" / "default" / "README.md").exists() and (copy / "unsafe.bin").exists()
