"""Extending corpusprep through its public hooks: a new stage brings its own card section and
licence note (card.py and the runner know no stage by name); a new quality rule family is one
module and one line in a stage's family table."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_run_config
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.runner import run
from pipeline.stage import Stage, config_fields
from pipeline.stages import STAGES
from pipeline.stages.quality import QualityStage
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio
from tests.conftest import write_config


class ShortStage(Stage):
    """Drops documents under 12 characters and reports the shortest one it kept."""

    name = "short"

    def process(self, doc: Document) -> Document | Drop:
        return Drop("too_short") if len(doc.text) < 12 else doc

    def summarize(self) -> dict[str, Any]:
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
    columns = {"caps_share": pa.float64()}

    def measure(self, chk: Check) -> dict[str, float]:
        letters = [ch for ch in chk.text if ch.isalpha()]
        return {"caps_share": sum(ch.isupper() for ch in letters) / max(1, len(letters))}

    def rules(self) -> list[Rule]:
        return [Rule("shouting", "caps_share", ">", "max_caps_share")]


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
    measures = pq.read_table(res.out_dir / "01_loud_quality" / "measures.parquet")
    share = dict(zip(measures["id"].to_pylist(), measures["shouting.caps_share"].to_pylist()))
    assert share["d0"] == 1.0 and share["d1"] == 0.0 and 0 < share["d2"] < 0.4  # stored for kept and dropped


TOY_READER = r'''"""Tab-separated text: one document a line, id TAB text (a toy format for the table test)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from pipeline.document import Document
from pipeline.readers.base import Item, Reader, Skip, Source


class ToyReader(Reader):
    name = "toy"
    suffixes = (".toy",)
    description = "toy lines, id and text split by input.toy_separator (.toy)"

    @dataclass(frozen=True)
    class Config:
        toy_separator: str = field(default="\t", metadata={"help": "what splits a line's id from its text"})

    def read(self, src: Source) -> Iterator[Item]:
        with open(src.paths[0], encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                rid, sep, text = line.rstrip("\n").partition(self.config.toy_separator)
                yield Document(rid, text, "", {"source": f"{src.label}:{n}"}) if sep else \
                    Skip(f"{src.label}:{n}", "no_separator", f"{src.paths[0]} line {n}: no separator")
'''


def test_a_new_input_format_is_one_module_and_one_table_entry(tmp_path, shared_data):
    """A copy of the package gains readers/toy.py and one entry (with its import) in the READERS
    table, nothing else: `stage --help` lists the format and its setting as a flag, detection
    finds .toy files, the setting reaches the reader, and the documents go through a stage."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import REPO

    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "pipeline", pkg / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "pipeline" / "readers" / "toy.py").write_text(TOY_READER)
    table = pkg / "pipeline" / "readers" / "__init__.py"
    text = table.read_text()
    assert text.count("    SavedDatasetsReader,\n)}") == 1
    line = "    __import__('pipeline.readers.toy', fromlist=['ToyReader']).ToyReader,\n"
    table.write_text(text.replace("    SavedDatasetsReader,\n)}", "    SavedDatasetsReader,\n" + line + ")}"))
    rows = [json.loads(l) for l in (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl").read_text()
            .splitlines()[:40]]
    lines = [f"t{i}|{r['text'].replace(chr(10), ' ')}" for i, r in enumerate(rows)] + ["no separator here"]
    (tmp_path / "docs.toy").write_text("\n".join(lines) + "\n")
    env = dict(__import__("os").environ, PYTHONPATH=str(pkg))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "corpusprep", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)

    help_text = " ".join(cli("stage", "--help").stdout.split())
    assert "toy: toy lines, id and text split by input.toy_separator (.toy)" in help_text
    assert "--toy-separator VALUE what splits a line's id from its text [toy]" in help_text
    res = cli("stage", "quality", "--input", str(tmp_path / "docs.toy"), "--output", str(tmp_path / "out"),
              "--toy-separator", "|", "--no-progress")
    assert res.returncode == 0, res.stderr
    read = json.loads((tmp_path / "out" / "_read" / "stats.json").read_text())
    assert read["docs_out"] == 40 and read["drops"] == {"read.no_separator": 1}
    quality = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert quality["docs_in"] == 40 == quality["docs_out"] + quality["docs_dropped"]
    (tmp_path / "notes.xyz").write_text("x")
    bad = cli("stage", "quality", "--input", str(tmp_path / "notes.xyz"), "--output", str(tmp_path / "o2"))
    assert bad.returncode == 2 and "toy: toy lines" in bad.stderr  # errors list the table's formats
