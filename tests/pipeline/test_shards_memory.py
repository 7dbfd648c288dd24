"""The shards step's memory is set by its settings, not by the corpus: documents of real news
pages' paragraphs (l3s-gn1 and dragnet ground truth, so documents share paragraphs and form
validation groups across hash ranges) at two sizes 4x apart; and reading the postings back in
many small hash ranges or one gives the same bytes."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.devtools.procmem import run_with_peak_rss
from tests.conftest import REPO

BUILD = """
import sys
from pathlib import Path
from pipeline.shards import build_shards
from pipeline.shards_settings import ShardsConfig
stage, out, tok, buffer_mb = sys.argv[1:5]
build_shards({{"v": Path(stage)}}, Path(out), ShardsConfig(budgets=("500K", "1M"), validation_tokens="50K",
             tokenizer=tok, buffer_mb=int(buffer_mb), tokens_per_shard=1 << 18), progress=False)
"""


def paragraphs(shared_data: Path) -> list[str]:
    out = []
    for name in ("l3s-gn1", "dragnet"):
        for line in (shared_data / "extraction" / name / "ground_truth.jsonl").read_text(encoding="utf-8").split("\n"):
            if line:
                out += [p.strip() for p in (json.loads(line)["text"] or "").split("\n") if len(p.split()) >= 8]
    return out


def stage_folder(folder: Path, paras: list[str], n: int, seed: int = 0) -> Path:
    """n documents of ~2 KB, each a seeded draw of real paragraphs, as a stage's parts."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for part in range(0, n, 5000):
        docs = []
        for _ in range(part, min(n, part + 5000)):
            picked, size = [], 0
            while size < 2000:
                picked.append(rng.choice(paras))
                size += len(picked[-1])
            docs.append("\n".join(picked))
        pq.write_table(pa.table({"id": [f"d{i:07d}" for i in range(part, part + len(docs))], "text": docs}),
                       folder / f"part-{part // 5000:05d}-00000.parquet")
    return folder


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, shared_data):
    from pipeline.tokenizer import train_tokenizer

    tmp = tmp_path_factory.mktemp("shards_memory")
    paras = paragraphs(shared_data)
    tok = tmp / "tokenizer.json"
    train_tokenizer(iter(paras[:20_000]), 2000).save(str(tok))
    return tmp, tok, {n: stage_folder(tmp / f"s{n}", paras, n) for n in (5_000, 20_000)}


def test_the_shards_step_memory_does_not_grow_with_the_corpus(corpora):
    tmp, tok, stages = corpora
    peak = {}
    for n, stage in stages.items():
        res = run_with_peak_rss([sys.executable, "-c", BUILD.format(), str(stage), str(tmp / f"out{n}"), str(tok), "4"],
                                cwd=REPO, stderr=subprocess.PIPE)
        assert res.returncode == 0
        peak[n] = res.one_anon_mb
    text_mb = {n: sum(pq.read_table(p)["text"].nbytes for p in s.glob("*.parquet")) / 2**20 for n, s in stages.items()}
    print(f"shards step, anonymous peak: {text_mb[5_000]:.0f} MB of text {peak[5_000]:.0f} MB, "
          f"{text_mb[20_000]:.0f} MB of text {peak[20_000]:.0f} MB")
    # the builder that held every text, token and posting grew ~16 bytes a byte of text (~480 MB here)
    assert peak[20_000] - peak[5_000] < 60  # allocator fragmentation: 11-30 MB measured
    man = json.loads((tmp / "out20000" / "manifest.json").read_text())
    assert man["validation"]["split"]["groups"] < 20_000  # shared paragraphs did join documents


def test_many_small_hash_ranges_give_the_bytes_of_one(corpora, monkeypatch):
    """buffer_mb = 1 reads the postings back in many ranges (counted), 512 in one; with a mix of
    dropped documents and their fates, every file is the same."""
    from pipeline import shard_store
    from pipeline.shards import build_shards
    from pipeline.shards_settings import ShardsConfig

    tmp, tok, stages = corpora
    stage = stages[5_000]
    ids = pq.read_table(next(stage.glob("*.parquet")))["id"].to_pylist()[:600]
    drops = tmp / "drops.parquet"
    pq.write_table(pa.table({"id": [f"x{i}" for i in range(600)] + ids[:100],
                             "text": [f"dropped text number {i} " * 40 for i in range(600)] + [""] * 100}), drops)
    ranges = []
    real = shard_store.PostingRuns.ranges

    def counted(self):
        for r in real(self):
            ranges.append(len(r[0]))
            yield r

    monkeypatch.setattr(shard_store.PostingRuns, "ranges", counted)
    outs = {}
    for mb in (1, 512):
        ranges.clear()
        cfg = ShardsConfig(budgets=("300K", "600K"), validation_tokens="50K", tokenizer=str(tok), buffer_mb=mb,
                           tokens_per_shard=1 << 17, mixes={"m": {"base": "v", "dropped": ["dedup"], "share": 0.1}})
        build_shards({"v": stage}, tmp / f"ranges{mb}", cfg, progress=False, drops={"dedup": drops})
        outs[mb] = {p.relative_to(tmp / f"ranges{mb}"): p.read_bytes() for p in sorted((tmp / f"ranges{mb}").rglob("*"))
                    if p.is_file() and p.name != "manifest.json"}
        man = json.loads((tmp / f"ranges{mb}" / "manifest.json").read_text())
        del man["seconds"]
        outs[mb]["manifest"] = json.dumps(man, sort_keys=True).encode()
        outs[mb]["ranges"] = len(ranges)
    assert outs[1]["ranges"] > 20 and outs[512]["ranges"] == 2  # one range per pass: groups, then statistics
    del outs[1]["ranges"], outs[512]["ranges"]
    assert outs[1] == outs[512] and len(outs[1]) > 10
    assert not (tmp / "ranges1" / ".work").exists()  # the working store is gone
