"""Trainer: it learns, it overfits a tiny shard, it resumes exactly, it refuses bad shards."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from pipeline.errors import RunError
from training.config import ModelConfig, RunSpec, TrainConfig
from training.data import DataError, EpochSampler, TokenData
from training.model import GPT
from training.train import lr_at, train

TINY = ModelConfig(n_layer=2, d_model=64, n_head=4, context=32)


def spec(shards, budget="1K", **kw) -> RunSpec:
    base = dict(shards=str(shards), variant="v", budget=budget, batch_size=8, lr=3e-3, warmup_steps=5,
                eval_every=50, eval_tokens=2048, threads=1, memorization_windows=4)
    return RunSpec(TINY, TrainConfig(**{**base, **kw}), "t")


def test_tiny_model_overfits_a_1000_token_shard(small_shards, tmp_path):
    model = ModelConfig(n_layer=2, d_model=128, n_head=4, context=64)
    s = RunSpec(model, spec(small_shards, tokens=16 * 64 * 250, batch_size=16, lr=5e-3, warmup_steps=20,
                            weight_decay=0.0).train, "overfit")
    r = train(s, tmp_path / "o")
    # Loss on the budget, at window positions with >= 16 tokens of context (the first tokens of a
    # random window cannot tell where in the 1,000 tokens they are).
    from training.data import TokenData
    data = TokenData(small_shards, "v", "1K")
    m = GPT(dataclasses.replace(model, vocab_size=data.vocab_size))
    m.load_state_dict(torch.load(tmp_path / "o" / "checkpoint.pt", weights_only=True)["model"])
    m.eval()
    w = torch.from_numpy(np.stack([data.train[i:i + 65] for i in range(0, len(data.train) - 65, 7)]).astype(np.int64))
    with torch.no_grad():
        logits, _ = m(w[:, :-1])
    late = torch.nn.functional.cross_entropy(logits[:, 16:].reshape(-1, logits.size(-1)), w[:, 17:].reshape(-1)).item()
    print(f"\n[overfit 1,000 tokens] loss with >= 16 tokens of context {late:.4f} (all positions "
          f"{r['train_eval_loss']:.4f}), {r['epochs']:.0f} epochs; validation {r['val_loss']:.2f}")
    assert 1000 <= r["unique_tokens"] < 1200
    assert late < 0.05
    assert r["val_loss"] > 2.0  # it memorised the budget; it did not learn the validation text


def test_loss_falls_and_result_is_complete(small_shards, tmp_path):
    r = train(spec(small_shards, budget="8K", epochs=3.0, eval_every=10), tmp_path / "o")
    val = [v for _, v in r["curves"]["val"]]
    assert val[-1] < val[0] - 0.5 and r["val_loss"] < np.log(r["config"]["model"]["vocab_size"])
    for key in ("N", "N_total", "D", "unique_tokens", "epochs", "C", "curves", "val_loss", "ece", "tokens_per_s",
                "mfu", "wall_time", "train_val_gap", "memorized_share"):
        assert key in r
    assert r["N"] < r["N_total"] and abs(r["epochs"] - 3.0) < 0.2 and 0 <= r["ece"] <= 1
    assert json.loads((tmp_path / "o" / "result.json").read_text())["val_loss"] == r["val_loss"]


def test_resume_continues_exactly(small_shards, tmp_path):
    s = spec(small_shards, budget="8K", tokens=8 * 32 * 200, eval_every=1000)
    straight = train(s, tmp_path / "a")
    assert train(s, tmp_path / "b", stop_after=100) == {"stopped_at": 100}
    resumed = train(s, tmp_path / "b")
    assert straight["steps"] == resumed["steps"] == 200
    assert abs(straight["final_train_loss"] - resumed["final_train_loss"]) < 1e-6
    assert abs(straight["val_loss"] - resumed["val_loss"]) < 1e-6


def test_one_epoch_draws_every_window_exactly_once_and_epochs_repermute():
    s = EpochSampler(1000, 64, seed=3)
    first, shift0 = s.take(0, 1000)
    assert sorted(first.tolist()) == list(range(1000)) and len(set(shift0.tolist())) == 1
    second, shift1 = s.take(1000, 1000)
    assert sorted(second.tolist()) == list(range(1000)) and not np.array_equal(first, second)
    # draws across the epoch boundary are the two epochs' ends and starts, in batches of any size
    mixed, _ = EpochSampler(1000, 64, seed=3).take(990, 20)
    assert mixed.tolist() == first[990:].tolist() + second[:10].tolist()
    assert 0 <= shift0[0] < 64 and EpochSampler(1000, 64, 4).take(0, 5)[0].tolist() != first[:5].tolist()


def test_one_epoch_of_training_predicts_every_token_once(small_shards):
    """The windows of one epoch, laid over the budget: every target position is covered exactly
    once, but for fewer than `context` of them (the remainder of the last window)."""
    data = TokenData(small_shards, "v", "8K")
    ctx = 32
    s = EpochSampler(data.n_windows(ctx), ctx, seed=0)
    seen = np.zeros(len(data.train), int)
    for start in range(0, s.n, 8):
        idx, shift = s.take(start, min(8, s.n - start))
        for i, sh in zip(idx, shift):
            seen[(i * ctx + sh + 1 + np.arange(ctx)) % len(data.train)] += 1
    assert seen.max() == 1 and (seen == 0).sum() < ctx
    x, y = data.batch(s, 0, 4, ctx, "cpu")
    assert torch.equal(x[:, 1:], y[:, :-1]) and x.shape == (4, ctx)


def test_resume_under_a_different_model_or_lr_is_refused(small_shards, tmp_path):
    s = spec(small_shards, budget="8K", tokens=8 * 32 * 20, eval_every=1000)
    train(s, tmp_path / "a", stop_after=5)
    bigger = RunSpec(dataclasses.replace(TINY, d_model=96, n_head=4), s.train, "t")
    with pytest.raises(RunError, match=r"model.d_model: 64 -> 96"):
        train(bigger, tmp_path / "a")
    with pytest.raises(RunError, match=r"train.lr: 0.003 -> 0.001"):
        train(RunSpec(TINY, dataclasses.replace(s.train, lr=1e-3), "t"), tmp_path / "a")
    # fields that only change how it runs may differ
    r = train(RunSpec(TINY, dataclasses.replace(s.train, threads=2), "t"), tmp_path / "a")
    assert r["steps"] == 20 and r["spec"]["train.lr"] == 0.003 and "train.threads" not in r["spec"]


def test_corrupted_shard_or_mismatched_manifest_stops_before_training(small_shards, tmp_path):
    man = json.loads((small_shards / "manifest.json").read_text())
    shard = small_shards / man["variants"]["v"]["budgets"]["8K"]["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match the manifest"):
        train(spec(small_shards, budget="8K"), tmp_path / "o")
    assert not (tmp_path / "o" / "checkpoint.pt").exists()
    man["variants"]["v"]["budgets"]["1K"]["shards"][0]["tokens"] += 1
    man["variants"]["v"]["budgets"]["1K"]["shards"][0]["sha256"] = "0" * 64
    (small_shards / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match="sha256 differs"):
        train(spec(small_shards), tmp_path / "o")


@pytest.mark.parametrize("kw", [dict(activation="swiglu", norm="rmsnorm", positions="rotary", tie_weights=False),
                                dict(activation="relu", init="xavier", dropout=0.1), dict(init="kaiming")])
def test_architecture_options_run_and_count(kw):
    cfg = dataclasses.replace(TINY, vocab_size=100, **kw)
    m = GPT(cfg)
    logits, loss = m(torch.randint(0, 100, (2, 16)), torch.randint(0, 100, (2, 16)))
    assert logits.shape == (2, 16, 100) and loss.item() > 0
    emb = 100 * 64 + (0 if cfg.positions == "rotary" else 32 * 64) + (0 if cfg.tie_weights else 100 * 64)
    assert m.n_params(embeddings=True) - m.n_params() == emb
    assert m.flops_per_token() > 6 * m.n_params()


@pytest.mark.parametrize("opt", ["sgd", "rmsprop", "adagrad"])
def test_other_optimizers_and_losses_train(small_shards, tmp_path, opt):
    r = train(spec(small_shards, budget="8K", optimizer=opt, lr=0.05 if opt == "sgd" else 3e-3, loss="focal",
                   label_smoothing=0.0, epochs=1.0, l2=1e-6), tmp_path / "o")
    assert np.isfinite(r["val_loss"])


def test_lr_schedules():
    cfg = TrainConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, cfg) == pytest.approx(0.1) and lr_at(9, 100, cfg) == pytest.approx(1.0)
    assert lr_at(100, 100, cfg) == pytest.approx(0.1)
    lin = dataclasses.replace(cfg, schedule="linear")
    assert lr_at(55, 100, lin) == pytest.approx(0.55)
    assert lr_at(50, 100, dataclasses.replace(cfg, schedule="constant")) == 1.0
    assert lr_at(39, 100, dataclasses.replace(cfg, schedule="inverse_sqrt")) == pytest.approx(0.5)


def test_loss_falls_on_the_default_corpus(tmp_path, default_shards):
    """html -> shards on the built-in corpus, then a short run: validation loss must fall."""
    s = RunSpec(ModelConfig(n_layer=2, d_model=64, n_head=2, context=64),
                TrainConfig(shards=str(default_shards), variant="raw", budget="100K", batch_size=16,
                            lr=3e-3, warmup_steps=10, eval_every=20, eval_tokens=8192, threads=1,
                            memorization_windows=4), "default")
    r = train(s, tmp_path / "t")
    val = [v for _, v in r["curves"]["val"]]
    print(f"\n[default corpus] validation loss {val[0]:.3f} -> {val[-1]:.3f} over {r['D']:,} tokens "
          f"(uniform: {np.log(1024):.3f})")
    # Falls at every evaluation and ends 1 nat under uniform. (A fixed drop from the first
    # evaluation was inside seed noise: with only the shard shuffle's seed changed, 0.28 to 0.52
    # nats on the same extractor; the validation split's composition sets the level.)
    assert all(b < a for a, b in zip(val, val[1:])) and val[-1] < np.log(1024) - 1.0
