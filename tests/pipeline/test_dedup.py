"""Dedup: planted near-duplicates at known Jaccard, datasketch equivalence, determinism."""
from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.chain import run_stage
from pipeline.config import StageSpec, load_run_config
from pipeline.executor import LocalExecutor
from pipeline.read_step import run_read
from pipeline.readers import InputConfig
from pipeline.runner import run
from pipeline.stages.dedup import Config, DedupStage, components, s_curve, shingler
from pipeline.stages.minhash import pair_jaccard, permutations, signatures
from tests.conftest import run_cli, write_config

VOCAB = [f"w{i}" for i in range(20_000)]


def shingle_set(text: str, n: int = 5) -> set[str]:
    w = text.lower().split()
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingle_set(a), shingle_set(b)
    return len(x & y) / len(x | y)


def near_copy(words: list[str], target: float, rng: random.Random) -> tuple[str, float]:
    """Replace words until the 5-gram Jaccard is close to target."""
    base = " ".join(words)
    lo, hi, best = 0.0, 1.0, (base, 1.0)
    for _ in range(18):
        frac = (lo + hi) / 2
        r2 = random.Random(rng.random())
        new = [rng.choice(VOCAB) if r2.random() < frac else w for w in words]
        text = " ".join(new)
        j = jaccard(base, text)
        if abs(j - target) < abs(best[1] - target):
            best = (text, j)
        lo, hi = (frac, hi) if j > target else (lo, frac)
    return best


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list[tuple[str, str, float]]]:
    """400 random documents and 200 planted copies at Jaccard 0.3 .. 1.0 (ids in input order)."""
    rng = random.Random(7)
    docs, pairs = [], []
    for i in range(400):
        docs.append((f"o{i:04d}", [rng.choice(VOCAB) for _ in range(rng.randint(150, 400))]))
    targets = [0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0]
    rows = [{"id": i, "text": " ".join(w)} for i, w in docs]
    for k in range(220):
        oid, words = docs[k]
        target = targets[k % len(targets)]
        text, j = near_copy(words, target, rng) if target < 1 else (" ".join(words).upper(), 1.0)
        rows.append({"id": f"c{k:04d}", "text": text})
        pairs.append((oid, f"c{k:04d}", j))
    path = tmp_path_factory.mktemp("dedup") / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, pairs


def removed_map(out: Path) -> dict[str, tuple[str, str]]:
    d = pq.read_table(out / "drops.parquet").to_pylist()
    return {r["id"]: (r["reason"], r["detail"]) for r in d}


def dedup(inp: Path, out: Path, workers: int = 1, part_docs: int = 2000, **cfg) -> dict:
    ex = LocalExecutor(workers)
    run_read(InputConfig(path=str(inp)), out / "_read", ex, part_docs, progress=False)
    run_stage(StageSpec("dedup", Config(**cfg)), out / "_read", out, ex, progress=False)
    return removed_map(out)


def test_recall_and_false_removals_by_jaccard(tmp_path, planted):
    path, pairs = planted
    rem = dedup(path, tmp_path / "out")
    high = [(a, b) for a, b, j in pairs if j >= 0.85]
    low = [(a, b) for a, b, j in pairs if j < 0.6]
    recall = sum(b in rem and rem[b][1] == a for a, b in high) / len(high)
    false = sum(b in rem for a, b in low) / len(low)
    print(f"\n[dedup planted pairs] recall(J>=0.85) {recall:.3f} on {len(high)} pairs; "
          f"removed(J<0.6) {false:.3f} of {len(low)} pairs")
    assert recall >= 0.95 and false <= 0.02
    assert all(v[0] in ("dedup.exact", "dedup.minhash") for v in rem.values())
    assert rem["c0010"] == ("dedup.exact", "o0010")  # the upper-cased copy is exact after normalising


def test_determinism_across_workers_batch_sizes_and_buckets(tmp_path, planted):
    path, _ = planted
    a = dedup(path, tmp_path / "a", workers=1, part_docs=1000)
    b = dedup(path, tmp_path / "b", workers=2, part_docs=37)
    c = dedup(path, tmp_path / "c", workers=2, part_docs=100, buckets=7)
    assert a == b == c and len(a) > 100
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["counters"]["buckets"] > 1


def test_signatures_equal_datasketch():
    from datasketch import MinHash

    cfg = Config()
    sh = shingler(cfg)
    texts = ["the quick brown fox jumps over the lazy dog again and again", "short text", ""]
    values, offsets = sh.batch([sh.normal(t) for t in texts])
    hashes = [values[offsets[i]:offsets[i + 1]] for i in range(len(texts))]
    a, b = permutations(112, cfg.seed)
    ours = signatures(values, offsets, a, b)
    for h, row in zip(hashes, ours):
        m = MinHash(num_perm=112, seed=cfg.seed, hashfunc=lambda x: int(x), scheme="affine32")
        m.update_batch([int(v) for v in h])
        assert np.array_equal(m.hashvalues, row)


def test_compiled_ngram_hashes_equal_a_numpy_reference():
    """The compiled n-gram kernel (pipeline.text) against the arithmetic written out in numpy, text
    by text: lengths around n (shorter texts give one gram of themselves, or none for
    gram_hashes), empty texts, repeats; and dedup's 32-bit shingles are its low bits."""
    import random

    from pipeline.text import gram_hashes, hash64, mix64, ngram_hashes, ngram_hashes_batch

    def reference(words: list[str], n: int, short: bool = True) -> np.ndarray:
        wh = np.array([hash64(w) for w in words], dtype=np.uint64)
        k = min(n, len(wh)) if short else n
        m = len(wh) - k + 1 if len(wh) and len(wh) >= k else 0
        h = np.zeros(m, dtype=np.uint64)
        for j in range(k if m else 0):
            h = mix64(h ^ wh[j:j + m])
        return h

    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.choice([0, 1, 4, 5, 6, 12, 13, 14, 30, 200])))
             for _ in range(300)]
    sh = shingler(Config())
    values, offsets = sh.batch(texts)
    v13, o13 = ngram_hashes_batch([t.split() for t in texts], 13)
    assert len(offsets) == len(o13) == len(texts) + 1
    for i, t in enumerate(texts):
        w = t.split()
        low32 = (reference(w, 5) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        assert np.array_equal(values[offsets[i]:offsets[i + 1]], low32)
        assert np.array_equal(sh.hashes(w), values[offsets[i]:offsets[i + 1]])
        assert np.array_equal(v13[o13[i]:o13[i + 1]], reference(w, 13))
        assert np.array_equal(ngram_hashes(w, 13), reference(w, 13))
        wh = np.array([hash64(x) for x in w], dtype=np.uint64)
        assert np.array_equal(gram_hashes(wh, 5), reference(w, 5, short=False))


def real_texts(shared_data: Path, sample_corpus: dict) -> list[str]:
    """Texts written by others: the default corpus's pages, the extraction sets' ground truth
    (news in several languages) and raw HTML pages (markup, entities, scripts; 12 languages
    in trafilatura's evaluation set), plus hand-made edge cases."""
    import gzip

    texts = [json.loads(l)["text"] for l in gzip.open(sample_corpus["dir"] / "expected.jsonl.gz")]
    for name in ("dragnet", "l3s-gn1", "utomo-chaos-2017"):
        texts += [json.loads(l)["text"] for l in (shared_data / "extraction" / name / "ground_truth.jsonl").open()]
    pages = sorted((shared_data / "extraction" / "trafilatura-eval-dev" / "eval").glob("*.html.gz"))[:40]
    texts += [gzip.open(p).read().decode("utf-8", "replace") for p in pages]
    return texts + ["", " ", "snake_case, CamelCase; (x+y)=z!", "a\u00a0b\u2003c\u3000d\x1cE\x1fF\u2028g",
                    "ﬁne Ｆｕｌｌ ①② ٣ ߁", "naïve café — «quotes» ‘x’", "emoji 🙂🙂 and ∑ symbols",
                    "\t\n lead and trail \r\n", "___", "Ⅻ ǅ ß ΣΑΣ İSTANBUL", "one", "a b c d"]


def test_batch_normalisation_equals_normalize_on_real_text(shared_data, sample_corpus):
    """Dedup normalises a batch at once in Arrow's buffer (`normalize_array`); every text comes out
    as `normalize` gives it, under every combination of the five settings."""
    import itertools

    import pyarrow as pa

    from pipeline.text import normalize, normalize_array

    texts = real_texts(shared_data, sample_corpus)
    assert sum(not t.isascii() for t in texts) > 300
    arr = pa.array(texts, pa.string())
    assert normalize_array(arr).to_pylist() == [normalize(t) for t in texts]
    names = ("lowercase", "punctuation", "digits", "nfkc", "whitespace")
    for flags in itertools.product((True, False), repeat=5):
        kw = dict(zip(names, flags))
        some = arr[-22:]  # the edge cases and 10 HTML pages
        assert normalize_array(some, **kw).to_pylist() == [normalize(t, **kw) for t in some.to_pylist()], kw
    assert normalize_array(arr.slice(5, 40)).to_pylist() == [normalize(t) for t in texts[5:45]]


def test_shingles_from_the_word_table_equal_the_python_split_on_real_text(shared_data, sample_corpus):
    """Dedup signs normalised texts by cutting them at spaces and finding each word's hash in a
    compiled table (pipeline.word_table); the shingles are the ones str.split and the Python
    word cache give, on real texts (non-ASCII among them) and on empty, one-word and
    shorter-than-n texts; from a table that must grow many times, across calls (the words of
    the first call cached), and on a slice of an array."""
    import pyarrow as pa

    from pipeline.text import ngram_hashes_batch
    from pipeline.word_table import WordTable, ngram_hashes_spaced

    sh = shingler(Config())
    normals = [sh.normal(t) for t in real_texts(shared_data, sample_corpus)]
    arr = pa.array(normals, pa.large_string())
    ref, ref_off = ngram_hashes_batch([t.split() for t in normals], 5)
    table = WordTable(capacity=4)
    for _ in range(2):
        v, o = ngram_hashes_spaced(arr, 5, table)
        assert np.array_equal(o, ref_off) and np.array_equal(v, ref)
    assert len(table) == len({w for t in normals for w in t.split()}) and len(table.keys) > 4
    v, o = ngram_hashes_spaced(arr.slice(10, 30), 5, WordTable())
    r, ro = ngram_hashes_batch([t.split() for t in normals[10:40]], 5)
    assert np.array_equal(o, ro) and np.array_equal(v, r)
    values, offsets = sh.batch(normals)
    assert np.array_equal(values, (ref & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def test_distinct_sorted_equals_numpy_unique_per_document():
    from pipeline.stages.minhash import distinct_sorted

    rng = np.random.default_rng(5)
    lengths = rng.choice([0, 1, 2, 7, 300, 3000], size=400)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.integers(0, 500, offsets[-1], dtype=np.uint32)  # many repeats within a document
    distinct, starts = distinct_sorted(values, offsets)
    for d in range(len(lengths)):
        assert np.array_equal(distinct[starts[d]:starts[d + 1]], np.unique(values[offsets[d]:offsets[d + 1]]))


def test_default_corpus_planted_duplicates(tmp_path, sample_corpus):
    cfg = write_config(tmp_path / "d.toml", sample_corpus["dir"] / "warc", tmp_path / "out",
                       stages='[[stages]]\nname = "html"\n[[stages]]\nname = "dedup"\n',
                       input_extra=f'format = "warc"\nlabels = "{sample_corpus["dir"] / "labels.jsonl"}"\n')
    gt = run(load_run_config(cfg), progress=False).report["stages"][-1]["ground_truth"]
    bins = gt["pairs_by_jaccard"]
    print(f"\n[dedup on default corpus] {bins}")
    assert bins["jaccard_0.85_1.00"]["share"] >= 0.95 and bins["jaccard_0.85_1.00"]["pairs"] >= 50
    assert bins["jaccard_0.00_0.60"]["share"] <= 0.02 and bins["jaccard_0.00_0.60"]["pairs"] >= 20


def test_explain_and_s_curve():
    curve = dict(s_curve(14, 8))
    assert curve[0.0] == 0.0 and curve[1.0] == 1.0 and 0.2 < curve[0.6] < 0.22 and curve[0.85] > 0.98
    text = run_cli("stage", "dedup", "--explain").stdout
    assert "14 bands x 8 rows = 112 permutations" in text and "0.719" in text
    assert "10 bands x 11 rows" in DedupStage(Config(preset="t80")).explain()


def test_pair_jaccard_equals_set_arithmetic():
    rng = np.random.default_rng(0)
    sets = [np.unique(rng.integers(0, 60, rng.integers(0, 40))).astype(np.uint32) for _ in range(300)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    left, right = rng.integers(0, 300, 2000), rng.integers(0, 300, 2000)
    got = pair_jaccard(offsets, np.concatenate(sets), left, right)
    for e in range(2000):
        a, b = set(sets[left[e]].tolist()), set(sets[right[e]].tolist())
        assert got[e] == pytest.approx(len(a & b) / len(a | b) if a | b else 1.0)


def test_components_label_every_document_with_its_clusters_earliest_member(tmp_path):
    import pyarrow as pa

    rng = np.random.default_rng(3)
    n = 5000
    # random edges plus a long chain written back to front (the worst case for propagation)
    src = np.concatenate([rng.integers(0, n, 3000), np.arange(4000, 4999)[::-1]])
    dst = np.concatenate([rng.integers(0, n, 3000), np.arange(4001, 5000)[::-1]])
    files = []
    for k in range(3):
        f = tmp_path / f"e{k}.parquet"
        pq.write_table(pa.table({"src": src[k::3], "dst": dst[k::3]}), f)
        files.append(f)
    labels = components(files, n, batch=100)
    parent = list(range(n))  # reference: plain union-find, root = smallest member

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for s, d in zip(src.tolist(), dst.tolist()):
        a, b = find(s), find(d)
        parent[max(a, b)] = min(a, b)
    assert labels.tolist() == [find(i) for i in range(n)]
    assert len(set(labels[4000:5000].tolist())) == 1 and labels[4999] <= 4000


def test_peak_memory_stays_under_memory_mb(tmp_path):
    """200,000 short documents with many duplicates: every process of `corpusprep stage dedup`
    (reader, signature, shuffle, verification and filtering workers, and the parent) stays under
    the configured cap, and the shuffle was really split into buckets."""
    import sys

    from pipeline.devtools.procmem import run_with_peak_rss

    rng = random.Random(5)
    words = [f"w{i}" for i in range(3000)]
    base = [[rng.choice(words) for _ in range(24)] for _ in range(20_000)]
    inp = tmp_path / "short.jsonl"
    with inp.open("w") as fh:
        for i in range(200_000):
            ws = list(base[rng.randrange(len(base))]) if i % 3 else [rng.choice(words) for _ in range(24)]
            if i % 3 == 2:
                ws[rng.randrange(24)] = rng.choice(words)
            fh.write(json.dumps({"id": f"s{i}", "text": " ".join(ws)}) + "\n")
    cap = 224
    out = tmp_path / "out"
    res = run_with_peak_rss([sys.executable, "-m", "corpusprep", "stage", "dedup", "--input", str(inp),
                             "--output", str(out), "--workers", "2", "--part-docs", "10000",
                             "--set", f"memory_mb={cap}", "--no-progress"], stdout=subprocess.DEVNULL)
    stats = json.loads((out / "stats.json").read_text())
    print(f"\n[dedup memory] 200k docs, memory_mb={cap}: peak one process {res.one_mb:.0f} MB "
          f"({res.one_anon_mb:.0f} MB anonymous), buckets {stats['counters']['buckets']}, "
          f"removed {stats['docs_dropped']:,} in {res.seconds:.0f} s")
    assert res.returncode == 0 and stats["docs_dropped"] > 50_000
    assert stats["counters"]["buckets"] >= 4
    # What the processes allocate must fit the cap less the libraries' file-backed pages (62 MB
    # measured in a warm venv). RSS itself also counts those pages, and they depend on the page
    # cache: minutes after a fresh venv install (as in CI) RssFile read 99 MB and RSS 216-225 MB
    # for the same 117-127 MB of anonymous memory that read 175-186 MB of RSS later.
    assert res.one_anon_mb < cap - 64


def test_memory_settings_below_what_a_process_needs_are_refused(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.stages.dedup import BASELINE_MB

    with pytest.raises(ConfigError, match=f"set at least {BASELINE_MB + 32}"):
        Config(memory_mb=BASELINE_MB)
    res = run_cli("stage", "dedup", "--input", str(tmp_path / "x.jsonl"), "--output", str(tmp_path / "o"),
                  "--set", "memory_mb=64", check=False)
    assert res.returncode == 2 and "dedup.memory_mb = 64" in res.stderr


def test_normalisation_settings_decide_what_is_an_exact_copy(tmp_path):
    words = " ".join(VOCAB[:40])
    rows = [{"id": "a", "text": words}, {"id": "b", "text": words.replace(" ", "   ", 3)},
            {"id": "c", "text": words.upper()}, {"id": "d", "text": words.replace(" w5 ", ", w5 ")}]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert dedup(inp, tmp_path / "default") == {x: ("dedup.exact", "a") for x in "bcd"}
    # whitespace kept: b (and d, whose comma becomes a space) are no exact copies, but their
    # shingles (words split on whitespace) are a's
    ws = dedup(inp, tmp_path / "ws", whitespace=False)
    assert ws == {"b": ("dedup.minhash", "a"), "c": ("dedup.exact", "a"), "d": ("dedup.minhash", "a")}
    # case kept: every shingle of c differs; punctuation kept: d is at most a near copy
    strict = dedup(inp, tmp_path / "strict", lowercase=False, punctuation=False)
    assert "c" not in strict and strict.get("d", ("kept",))[0] != "dedup.exact"


def test_normalize_fast_paths_equal_the_regular_expressions(sample_corpus):
    """normalize's ASCII byte table and split/join give what the plain regular expressions give,
    on the default corpus's texts and on hand-made edge cases (Unicode spaces and punctuation,
    underscores, control separators, compatibility characters, emoji)."""
    import gzip
    import re
    import unicodedata

    from pipeline.text import normalize

    def reference(t: str) -> str:
        t = unicodedata.normalize("NFKC", t).lower()
        t = re.sub(r"[^\w\s]|_", " ", t)
        return re.sub(r"\s+", " ", t).strip()

    texts = [json.loads(line)["text"] for line in gzip.open(sample_corpus["dir"] / "expected.jsonl.gz")][:400]
    texts += ["snake_case, CamelCase; (x+y)=z!", "a\u00a0b\u2003c\u3000d\x1cE\x1fF\u2028g", "ﬁne Ｆｕｌｌ ①②",
              "naïve café — «quotes» ‘x’", "emoji 🙂🙂 and ∑ "
                     "symbols", "lone \ud800 surrogate, here", "\t\n lead and trail \r\n", "", "___", "Ⅻ ǅ ß"]
    for t in texts:
        assert normalize(t) == reference(t), t[:80]


def test_a_part_that_quality_empties_runs_through_dedup(tmp_path, shared_data):
    """Issue 33's reproduction: one JSONL of real article texts and one of two short documents
    that quality drops, quality then dedup. The second file's part reaches dedup empty: it is an
    ordinary part (it crashed dedup's signing with 'empty part file'), and every document is kept
    or dropped with a reason."""
    rows = (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl").read_text().splitlines()[:30]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "in" / "spam.jsonl").write_text('{"id": "s1", "text": "buy now"}\n{"id": "s2", "text": "click"}\n')
    stages = '[[stages]]\nname = "quality"\n[[stages]]\nname = "dedup"\n'
    cfg = write_config(tmp_path / "q.toml", tmp_path / "in", tmp_path / "out", stages=stages, input_extra="")
    res = run(load_run_config(cfg), progress=False)
    read, quality, dedup = res.report["stages"]
    assert read["docs_in"] == 32 and quality["docs_in"] == 32 and quality["drops"]
    assert dedup["docs_in"] == quality["docs_out"] == dedup["docs_out"] + dedup["docs_dropped"]
    assert len(list((tmp_path / "out" / "02_dedup").glob("part-*.parquet"))) == 2  # the empty part too


def test_filtering_a_part_as_a_table_equals_the_document_path(tmp_path, shared_data):
    """Dedup's filter runs on each part as an Arrow table (`Stage.apply_table`); on real articles
    with planted exact and near copies, its kept rows, drops (with and without their texts) and
    stats equal the Document path's (`Stage.apply`), part by part."""
    from pipeline.io import docs_to_table, drops_to_table, read_part, read_part_table
    from pipeline.stages.dedup import DedupStage

    rng = random.Random(2)
    rows = [json.loads(l) for l in (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl").open()][:150]
    rows = [{"id": r["id"], "text": r["text"], "url": r["url"]} for r in rows]
    for k, r in enumerate(rows[:60]):  # exact copies (upper-cased), then copies with words swapped
        w = r["text"].split()
        text = r["text"].upper() if k % 2 else " ".join(rng.choice(w) if rng.random() < 0.02 else x for x in w)
        rows.append({"id": f"copy{k}", "text": text, "url": ""})
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dedup(inp, tmp_path / "out", part_docs=50)
    stage = DedupStage(Config(), tmp_path / "out" / "_state")
    stage.setup()
    parts = sorted((tmp_path / "out" / "_read").glob("part-*.parquet"))
    dropped = 0
    for part in parts:
        stage.begin_part(part.stem)
        for keep_text in (True, False):
            by_doc = stage.apply(read_part(part), keep_dropped_text=keep_text)
            by_table = stage.apply_table(read_part_table(part), keep_dropped_text=keep_text)
            assert by_table.kept.equals(docs_to_table(by_doc.kept))
            assert by_table.dropped.equals(drops_to_table(by_doc.dropped))
            by_doc.stats.seconds = by_table.stats.seconds = 0
            assert by_table.stats.to_dict() == by_doc.stats.to_dict()
        dropped += len(by_doc.dropped)
    assert len(parts) == 5 and dropped >= 55
