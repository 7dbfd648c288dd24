"""Extending corpusprep through its public hooks: a new stage brings its own card section and
licence note (card.py and the runner know no stage by name); a new quality rule family is one
module and one line in a stage's family table."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import load_run_config
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.runner import run
from pipeline.stage import Stage, config_fields
from pipeline.stages import STAGES
from pipeline.stages.quality import QualityStage
from pipeline.stages.quality_rules.family import Check, RuleFamily, mode_field, ratio
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


# --- a quality rule family: one module (here, these lines) and one table line ------------------
@dataclass(frozen=True)
class ShoutingSettings:
    shouting: str = mode_field()
    max_caps_share: float = ratio(0.5, "share of letters in capitals, at most")


class ShoutingRules(RuleFamily):
    """Pages written in capitals."""

    name = "shouting"
    Settings = ShoutingSettings

    def check(self, chk: Check, mode: str) -> str | None:
        letters = [ch for ch in chk.doc.text if ch.isalpha()]
        share = sum(ch.isupper() for ch in letters) / max(1, len(letters))
        chk.info["caps_share"] = round(share, 3)
        return "shouting" if share > self.config.max_caps_share else None


class LoudQuality(QualityStage):
    name = "loud_quality"
    families = QualityStage.families + (ShoutingRules,)  # the one table line


def test_a_new_quality_family_through_the_public_hook(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES, "loud_quality", "tests.pipeline.test_extending:LoudQuality")
    fields = {f["name"]: f for f in config_fields(LoudQuality.Config)}
    assert fields["max_caps_share"]["help"] == "share of letters in capitals, at most"
    assert fields["min_words"]["default"] == 50  # the published families are all there
    with pytest.raises(ConfigError, match=r"quality.max_caps_share = 2: must be within \[0, 1\]"):
        LoudQuality.Config(max_caps_share=2)
    inp = tmp_path / "in.jsonl"
    texts = ["A QUIET PAGE IS NOT THIS ONE", "a quiet page, this one", "Mostly quiet, with ONE word"]
    inp.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    off = "".join(f'{name} = "off"\n' for name in ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb"))
    cfg = write_config(tmp_path / "c.toml", inp, tmp_path / "out",
                       stages=f'[[stages]]\nname = "loud_quality"\n{off}max_caps_share = 0.4\n',
                       extra_run="workers = 2\npart_docs = 1", input_extra='format = "jsonl"\n')
    res = run(load_run_config(cfg), progress=False)
    stage = res.report["stages"][1]
    assert stage["drops"] == {"loud_quality.shouting": 1} and stage["docs_out"] == 2
