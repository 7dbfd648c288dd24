"""Extending corpusprep through its public hooks: a new stage brings its own card section and
licence note (card.py and the runner know no stage by name)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.config import load_run_config
from pipeline.document import Document, Drop
from pipeline.runner import run
from pipeline.stage import Stage
from pipeline.stages import STAGES
from tests.conftest import write_config


class ShortStage(Stage):
    """Drops documents under 12 characters and reports the shortest one it kept."""

    name = "short"

    def process(self, doc: Document) -> Document | Drop:
        return Drop("too_short") if len(doc.text) < 12 else doc

    def summarize(self, stage_dir: Path) -> dict[str, Any]:
        return {"short": {"threshold": 12}}

    @classmethod
    def card_section(cls, stats: dict[str, Any]) -> list[str]:
        return ["", "## Short documents", "", f"Dropped {stats['docs_dropped']} under "
                f"{stats['short']['threshold']} characters."]

    @classmethod
    def licence_note(cls, config: Any) -> str:
        return "Short-document rule: no data of its own."


def test_a_new_stage_renders_its_own_card_section(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES, "short", "tests.pipeline.test_extending:ShortStage")
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"d{i}", "text": "x" * (i + 5)}) + "\n" for i in range(20)))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out", stages='[[stages]]\nname = "short"\n',
                       input_extra='format = "jsonl"\n')
    res = run(load_run_config(cfg), progress=False)
    card = res.card_path.read_text()
    assert "## Short documents\n\nDropped 7 under 12 characters." in card
    assert "- Short-document rule: no data of its own." in card
