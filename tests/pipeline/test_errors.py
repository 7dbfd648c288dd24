"""User errors print one line; internal errors show their traceback and the part they were on."""
from __future__ import annotations

import json
import traceback

import pytest

from corpusprep.cli import main
from pipeline.document import Document
from pipeline.stage import Stage
from pipeline.stages import STAGES
from tests.conftest import write_config


class BoomStage(Stage):
    """A stage with a bug: it fails on one document of the second part."""

    name = "boom"

    def process(self, doc: Document) -> Document:
        if doc.id == "d17":
            raise ZeroDivisionError("a bug in a stage")
        return doc


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"document {i}"}) + "\n" for i in range(40)))
    return path


def test_internal_error_in_a_worker_shows_its_traceback_and_part(tmp_path, docs, monkeypatch):
    monkeypatch.setitem(STAGES, "boom", "tests.pipeline.test_errors:BoomStage")
    cfg = write_config(tmp_path / "boom.toml", docs, tmp_path / "out", stages='[[stages]]\nname = "boom"\n',
                       extra_run="workers = 2\npart_docs = 10", input_extra='format = "jsonl"\n')
    with pytest.raises(ZeroDivisionError) as err:  # not turned into a one-line "user" error
        main(["run", str(cfg), "--no-progress"])
    shown = "".join(traceback.format_exception(err.value))
    assert "while running stage 'boom' on part part-00000-00001 (read from in.jsonl)" in shown  # part and file
    assert "in process" in shown and "ZeroDivisionError: a bug in a stage" in shown  # the worker's frames


def test_bad_config_value_is_one_line(tmp_path, docs, capsys):
    cfg = write_config(tmp_path / "bad.toml", docs, tmp_path / "out", extra_run="part_docs = 0",
                       input_extra='format = "jsonl"\n')
    assert main(["run", str(cfg), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run.part_docs = 0: must be >= 1" in err and "Traceback" not in err
