"""Commands cannot drift from their configs: flags and help come from the config dataclasses,
and every config field says what it does."""
from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusprep.cli import main
from pipeline.config import RunSettings
from pipeline.readers import InputConfig
from pipeline.settings import default_of
from pipeline.shards_settings import ShardsConfig
from pipeline.stages import STAGES, get_stage
from training.config import ModelConfig, MoEConfig, TrainConfig
from training.knnlm import KnnLMConfig
from training.sweep import SweepConfig


def help_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def shown(value) -> str:
    return repr(",".join(map(str, value)) if isinstance(value, tuple) else value)


def test_every_config_field_has_help():
    configs = [InputConfig, RunSettings, ShardsConfig, ModelConfig, MoEConfig, TrainConfig, SweepConfig,
               KnnLMConfig] + [get_stage(name).Config for name in STAGES]
    missing = [f"{c.__module__}.{c.__qualname__}.{f.name}" for c in configs for f in dataclasses.fields(c)
               if not f.metadata.get("help")]
    assert not missing


def test_shards_and_stage_flags_are_the_config_fields_with_their_defaults(capsys):
    text = help_of("shards", capsys)
    for f in dataclasses.fields(ShardsConfig):
        if f.name == "variants":  # one --variant NAME=FOLDER each (or --input FOLDER)
            assert "--variant NAME=FOLDER shards.variants:" in text and "cleanest (default: {})" in text
        else:
            assert f"--{f.name.replace('_', '-')} VALUE" in text and f"(default: {shown(default_of(f))})" in text
    text = help_of("stage", capsys)
    for f in dataclasses.fields(InputConfig):
        if f.name != "path":  # --input
            assert f"--{f.name.replace('_', '-')} VALUE" in text and f"(default: {shown(default_of(f))})" in text


def test_train_and_sweep_help_list_every_setting(capsys):
    text = help_of("train", capsys)
    for prefix, cls in (("model", ModelConfig), ("model.moe", MoEConfig), ("train", TrainConfig)):
        for f in dataclasses.fields(cls):
            if f.name != "moe":
                assert f"{prefix}.{f.name} = {default_of(f)!r}: {f.metadata['help']}" in text
    text = help_of("sweep", capsys)
    assert all(f" {f.name} = " in text for f in dataclasses.fields(SweepConfig)) and "train.lr = 0.003" in text


def test_shards_flags_reach_the_config(tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    texts = [f"document {i} says " + " ".join(f"w{(i * 7 + k) % 97}" for k in range(80)) for i in range(300)]
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(300)], "text": texts}), stage / "part-00000.parquet")
    assert main(["shards", "--input", str(stage), "--output", str(tmp_path / "out"), "--no-progress",
                 "--budgets", "2K,4K", "--validation-tokens", "500", "--vocab-size", "300",
                 "--tokens-per-shard", "1024", "--group-max-df", "5"]) == 0
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert list(man["variants"]["default"]["budgets"]) == ["2K", "4K"] and man["tokens_per_shard"] == 1024
    assert man["validation"]["target"] == 500 and man["tokenizer"]["vocab_size"] == 300
    assert man["validation"]["split"]["group_max_df"] == 5


def test_one_entry_point_the_console_script_and_the_module_are_the_same():
    """`corpusprep` (the console script) and `python -m corpusprep` (the module torchrun starts)
    list the same commands; the package has one main."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import REPO

    script = Path(sys.executable).parent / "corpusprep"
    a = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True).stdout
    b = subprocess.run([sys.executable, "-m", "corpusprep", "--help"], capture_output=True, text=True, cwd=REPO,
                       check=True).stdout
    assert a == b and all(c in a for c in ("run", "stage", "train", "sweep", "demo", "train-classifier"))
    mains = [str(p.relative_to(REPO)) for d in ("pipeline", "training", "corpusprep") for p in (REPO / d).rglob("*.py")
             if "def main(" in p.read_text()]
    assert mains == ["corpusprep/cli.py"]
