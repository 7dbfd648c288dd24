"""kNN-LM: the arithmetic, retrieval on a memorised shard, nested datastores, exact vs IVF-PQ."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu (the knn extra) did not install")

from tests.conftest import run_cli  # noqa: E402
from training.config import ModelConfig, RunSpec, TrainConfig  # noqa: E402
from training.knnlm import KnnLMConfig, interpolate, knn_logprob, run_knnlm  # noqa: E402
from training.train import train  # noqa: E402

TINY = ModelConfig(n_layer=2, d_model=64, n_head=4, context=32)


def tiny_run(shards, out, budget, tokens):
    spec = RunSpec(TINY, TrainConfig(shards=str(shards), variant="v", budget=budget, tokens=tokens, batch_size=8,
                                     lr=3e-3, warmup_steps=5, eval_every=10_000, eval_tokens=2048, threads=1,
                                     memorization_windows=2), "t")
    train(spec, out)
    return out


def test_knn_probability_and_interpolation_by_hand():
    dist = np.array([[0.0, 1.0, 1.0]])
    hits = np.array([[True, False, True]])
    p = (1 + math.exp(-1)) / (1 + 2 * math.exp(-1))
    assert knn_logprob(dist, hits, 1.0)[0] == pytest.approx(math.log(p))
    assert knn_logprob(dist, np.zeros_like(hits), 1.0)[0] == -math.inf
    lm = np.log(np.array([0.1]))
    assert interpolate(lm, np.log([p]), 0.25)[0] == pytest.approx(math.log(0.25 * p + 0.75 * 0.1))
    assert interpolate(lm, np.array([-math.inf]), 0.25)[0] == pytest.approx(math.log(0.75 * 0.1))
    assert interpolate(lm, np.log([p]), 0.0)[0] == lm[0]


def test_on_a_memorised_shard_retrieval_is_far_below_the_model(small_shards, tmp_path):
    run = tiny_run(small_shards, tmp_path / "r", "1K", 8 * 32 * 120)  # ~30 epochs of 1,000 tokens
    out = run_knnlm(run, KnnLMConfig(query="1K", query_tokens=1000, k=16), say=lambda s: None)
    store = out["datastores"][0]
    print(f"\n[kNN-LM on its own training shard] perplexity {out['lm']['ppl']:.2f} -> {store['ppl']:.3f} "
          f"(lambda {store['lambda']:g}, {store['tokens']:,} keys)")
    assert store["tokens"] == (out["trained_tokens"] - 1) // 32 * 32
    assert store["ppl"] < 0.5 * out["lm"]["ppl"] and store["ppl"] < 1.5 and store["lambda"] > 0.5


def test_nested_datastores_references_and_ivf_through_the_cli(small_shards, tmp_path):
    small = tiny_run(small_shards, tmp_path / "small", "1K", 8 * 32 * 20)
    big = tiny_run(small_shards, tmp_path / "big", "8K", 8 * 32 * 30)
    results = {}
    for name, exact_below in (("exact", 10**9), ("ivf", 100)):
        run_cli("knnlm", str(small), "--datastores", "1K,8K", "--k", "16", "--query-tokens", "4096",
                "--exact-below", str(exact_below), "--reference", f"8K={big}")
        results[name] = json.loads((small / "knnlm.json").read_text())
    exact, ivf = results["exact"], results["ivf"]
    man = json.loads((small_shards / "manifest.json").read_text())["variants"]["v"]["budgets"]
    assert [d["budget"] for d in exact["datastores"]] == ["1K", "8K"]
    assert [d["tokens"] for d in exact["datastores"]] == [(man[b]["tokens"] - 1) // 32 * 32 for b in ("1K", "8K")]
    assert exact["datastores"][0]["index"].startswith("exact") and ivf["datastores"][0]["index"].startswith("IVF")
    assert exact["references"][0]["budget"] == "8K" and exact["references"][0]["tokens"] == man["8K"]["tokens"]
    for e, i in zip(exact["datastores"], ivf["datastores"]):
        print(f"\n[kNN-LM {e['budget']}] exact {e['ppl']:.2f}, IVF-PQ {i['ppl']:.2f}, LM {exact['lm']['ppl']:.2f}")
        assert e["ppl"] <= exact["lm"]["ppl"] * 1.01  # λ = 0 is in the grid: tuning cannot lose much
        assert abs(math.log(i["ppl"] / e["ppl"])) < 0.05
    windows = (json.loads((small_shards / "manifest.json").read_text())["validation"]["tokens"] - 1) // 32
    assert exact["measure_positions"] == windows // 2 * 32  # every other validation window
