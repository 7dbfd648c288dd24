"""A run's identity survives new options: a key a stored spec lacks reads as its default, so
adding a model field re-runs no finished sweep point and refuses no checkpoint, while setting it
to another value does both, naming it."""
from __future__ import annotations

import dataclasses

from tests.training.test_ddp import CONFIG
from training.config import ModelConfig, load_run_spec
from training.sweep import stale
from training.train import train


def _with_new_field(spec, value=None):
    """The same spec under a ModelConfig that has gained a field (`rope_base`, default 10000.0)."""
    grown = dataclasses.make_dataclass("ModelConfig", [("rope_base", float, dataclasses.field(
        default=10000.0, metadata={"help": "a field added after these runs were stored"}))],
        bases=(ModelConfig,), frozen=True)
    values = {f.name: getattr(spec.model, f.name) for f in dataclasses.fields(spec.model)}
    model = grown(**values) if value is None else grown(**values, rope_base=value)
    return dataclasses.replace(spec, model=model)


def test_a_new_model_field_reuses_finished_points_and_resumes_checkpoints(tmp_path, small_shards):
    cfg = tmp_path / "t.toml"
    cfg.write_text(CONFIG.format(shards=small_shards))
    spec = load_run_spec(str(cfg))
    done = train(spec, tmp_path / "done")
    train(spec, tmp_path / "half", stop_after=16)
    grown = _with_new_field(spec)
    assert stale(grown, tmp_path / "done") == []  # the finished point is reused as it is
    resumed = train(grown, tmp_path / "half")  # and the checkpoint resumes under the new class
    assert resumed["steps"] == done["steps"] == 32 and abs(resumed["val_loss"] - done["val_loss"]) < 1e-6
    changed = _with_new_field(spec, 500.0)
    assert stale(changed, tmp_path / "done") == ["model.rope_base: 10000.0 -> 500.0"]
