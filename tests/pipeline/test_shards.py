"""Token shards and data cards: budgets, nesting, validation split, round trip, card integrity."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.card import load_report, render_card, verify
from pipeline.config import load_run_config
from pipeline.runner import run
from pipeline.shard_format import Manifest, budget_rows, parse_tokens
from tests.conftest import REPO, run_cli, write_config

SHARDS = """
[shards]
variants = {raw = "html", deduped = "dedup"}
budgets = ["20K", "40K", "80K"]
validation_tokens = "10K"
tokens_per_shard = 8192
vocab_size = 1000
[shards.mixes]
mix = {base = "deduped", dropped = ["dedup"], share = 0.25, budgets = ["40K"]}
"""


# quality changes the text of almost every document it keeps (it drops lines): the variants hold
# different texts of the same ids
STAGES = """
[[stages]]
name = "html"
[[stages]]
name = "quality"
word_split = "whitespace"
[[stages]]
name = "dedup"
"""


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, sample_corpus):
    tmp = tmp_path_factory.mktemp("shards")
    cfg = write_config(tmp / "s.toml", sample_corpus["dir"] / "warc", tmp / "out",
                       stages=STAGES + SHARDS,
                       extra_run="workers = 2\npart_docs = 400")
    res = run(load_run_config(cfg), progress=False)
    return tmp, res


def doc_ids(folder: Path, budget: dict) -> list[str]:
    """The documents of a budget (or the validation split) in order, as the manifest describes it."""
    ids: list[str] = []
    for i, _ in budget_rows(folder, budget):
        if not ids or ids[-1] != i:
            ids.append(i)
    return ids


def test_budgets_within_one_document_nested_and_validation_disjoint(sharded):
    tmp, res = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    val = set(doc_ids(folder, man["validation"]))
    assert man["validation"]["tokens"] >= 10_000 and man["validation"]["variant"] == "deduped"
    for name, v in man["variants"].items():
        previous: list[str] = []
        for b, info in sorted(v["budgets"].items(), key=lambda x: x[1]["target"]):
            ids = doc_ids(folder, info)
            lengths = {}
            for i, toks in budget_rows(folder, info):
                lengths[i] = lengths.get(i, 0) + len(toks)
            total = sum(lengths.values())
            assert total == info["tokens"] >= info["target"]
            assert total - lengths[ids[-1]] < info["target"]  # within one document of the target
            assert ids[:len(previous)] == previous             # nested: a prefix of the next budget
            assert not val & set(ids)                          # disjoint from validation
            previous = ids
            assert all(s["tokens"] == 8192 for s in info["shards"][:-1])


def _texts(*files: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in files:
        t = pq.read_table(p, columns=["id", "text"])
        out.update(zip(t["id"].to_pylist(), t["text"].to_pylist()))
    return out


def test_each_variant_holds_its_own_text_of_a_document(sharded):
    """Quality dropped lines of the documents it kept: the raw variant decodes to html's text of
    a document, deduped and validation to dedup's, and a mix's dropped documents to the text the
    stage that dropped them saw."""
    tmp, _ = sharded
    out, folder = tmp / "out", tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    raw, clean = _texts(*out.glob("01_html/part-*.parquet")), _texts(*out.glob("03_dedup/part-*.parquet"))
    dropped = _texts(out / "03_dedup" / "drops.parquet")
    changed = [i for i in clean if clean[i] != raw[i]]
    assert len(changed) > 0.5 * len(clean)
    for name, budget, want in [("raw", man["variants"]["raw"]["budgets"]["80K"], raw),
                               ("deduped", man["variants"]["deduped"]["budgets"]["80K"], clean),
                               ("validation", man["validation"], clean)]:
        got = _decoded(folder, budget)
        last = doc_ids(folder, budget)[-1]  # a budget's last document is cut short
        wrong = [i for i in got if i != last and got[i] != want[i]]
        assert not wrong, (name, len(wrong), len(got))
        assert set(got) & set(changed)
    mixed = _decoded(folder, man["variants"]["mix"]["budgets"]["40K"])
    from_drops = [i for i in mixed if i in dropped]
    assert from_drops and all(mixed[i] == dropped[i] for i in from_drops[:-1])
    assert any(dropped[i] != raw[i] for i in from_drops)


def test_round_trip_decodes_to_the_documents(sharded):
    from tokenizers import Tokenizer

    tmp, _ = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    texts = _texts(*(tmp / "out" / "03_dedup").glob("part-*.parquet"))
    budget = man["variants"]["deduped"]["budgets"]["20K"]
    stream = np.concatenate([t for _, t in budget_rows(folder, budget)])
    assert len(stream) == budget["tokens"]
    eos = man["tokenizer"]["eos_id"]
    ends = np.flatnonzero(stream == eos)
    ids = doc_ids(folder, budget)
    start = 0
    for doc_id, end in zip(ids, ends):
        assert tok.decode(stream[start:end].tolist()) == texts[doc_id]
        start = end + 1
    assert stream.dtype == np.uint16


def test_loadable_by_pyarrow_and_datasets(sharded):
    import datasets

    tmp, _ = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    first = folder / man["variants"]["raw"]["budgets"]["20K"]["shards"][0]["path"]
    ds = datasets.Dataset.from_file(str(first))
    assert ds.column_names == ["doc_id", "doc_offset", "tokens"]
    assert sum(len(t) for t in ds["tokens"]) == 8192


def test_card_funnel_equals_stage_outputs_and_rerenders(sharded):
    tmp, res = sharded
    report = load_report(tmp / "cards" / "s")
    for s, d in zip(report["stages"], ["00_read", "01_html", "02_quality", "03_dedup"]):  # no raw parts: html
        # and quality run in the read
        kept = sum(pq.read_metadata(p).num_rows for p in (tmp / "out" / d).glob("_ids/*.parquet" if d == "00_read"
                                                                                else "part-*.parquet"))
        dropped = pq.read_metadata(tmp / "out" / d / "drops.parquet").num_rows
        assert (s["docs_out"], s["docs_dropped"]) == (kept, dropped)
        assert s["docs_in"] == kept + dropped
    assert (tmp / "cards" / "s" / "README.md").read_text() == render_card(report)
    assert (tmp / "cards" / "s" / "funnel.png").stat().st_size > 1000


def test_card_verify_catches_a_flipped_byte(sharded, tmp_path):
    tmp, _ = sharded
    assert verify(tmp / "cards" / "s") == []
    assert run_cli("card", "verify", str(tmp / "out" / "shards"), check=False).returncode == 0  # a shard folder
    man = json.loads((tmp / "out" / "shards" / "manifest.json").read_text())
    shard = tmp / "out" / "shards" / next(Manifest.from_dict(man).shard_files()).path
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    original = shard.read_bytes()
    shard.write_bytes(bytes(data))
    try:
        res = run_cli("card", "verify", str(tmp / "cards" / "s"), check=False)
        assert res.returncode == 1 and "sha256 differs" in res.stdout
        # a shard folder alone (as `corpusprep shards` writes it: shards + manifest.json, no card)
        res = run_cli("card", "verify", str(tmp / "out" / "shards"), check=False)
        assert res.returncode == 1 and "sha256 differs" in res.stdout
    finally:
        shard.write_bytes(original)


def test_card_diff_and_show(sharded):
    tmp, _ = sharded
    a = load_report(tmp / "cards" / "s")
    b = json.loads(json.dumps(a))
    b["config"]["stages"][2]["bands"] = 20
    b["stages"][3]["docs_out"] -= 3
    from pipeline.card import diff_reports
    lines = diff_reports(a, b)
    name = a["config"]["stages"][2]["name"]  # one setting changed: that setting, with the default it replaced
    assert [l for l in lines if l.startswith("config")] == [f"config stages.{name}.bands: (default: 14) -> 20"]
    assert any(l.startswith("dedup.docs_out") for l in lines)
    assert "# Data card: s" in run_cli("card", "show", str(tmp / "cards" / "s")).stdout


def test_committed_example_card_matches_its_report():
    card = REPO / "data_cards" / "default"
    assert (card / "README.md").read_text() == render_card(json.loads((card / "report.json").read_text()))


def test_parse_tokens():
    assert [parse_tokens(x) for x in ("1M", "250K", "2.5M", "1000", 7)] == [1_000_000, 250_000, 2_500_000, 1000, 7]


def _grams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    """Word 13-grams of lowercased text, written out plainly (independent of pipeline.splits)."""
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def _decoded(folder: Path, budget: dict) -> dict[str, str]:
    """Each document's text, decoded from its shard tokens."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    pieces: dict[str, list[int]] = {}
    for i, toks in budget_rows(folder, budget):
        pieces.setdefault(i, []).extend(toks.tolist())
    return {i: tok.decode(t) for i, t in pieces.items()}


def test_validation_is_independent_of_every_variants_training(sharded, sample_corpus):
    """Measured on decoded shards: validation 13-grams found in 1..10 training documents of each
    variant's largest budget are ~0 (the card's figure), and no planted copy or near copy (word
    5-gram Jaccard from 0.3 up) of a validation document is in any budget."""
    tmp, _ = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    val = _decoded(folder, man["validation"])
    val_grams = set().union(*(_grams(t) for t in val.values()))
    for name, v in man["variants"].items():
        largest = max(v["budgets"].values(), key=lambda b: b["target"])
        df: dict[tuple, int] = {}
        for text in _decoded(folder, largest).values():
            for g in _grams(text):
                df[g] = df.get(g, 0) + 1
        share = sum(1 <= df.get(g, 0) <= 10 for g in val_grams) / len(val_grams)
        assert share <= 0.02, (name, share)
        assert abs(share - man["validation"]["overlap_13gram"][name]) < 0.005  # the card's figure is this
    labels = [json.loads(line) for line in (sample_corpus["dir"] / "labels.jsonl").read_text().splitlines()]
    copies = [(x["id"], x["of"]) for x in labels if x["kind"] in ("near_dup", "exact_dup")]
    trained = {i for v in man["variants"].values() for b in v["budgets"].values() for i in doc_ids(folder, b)}
    pairs_at_validation = [(a, b) for a, b in copies if a in val or b in val]
    assert pairs_at_validation  # the seeded split draws some planted pairs into validation
    assert not [(a, b) for a, b in pairs_at_validation if a in trained or b in trained]


def test_groups_join_shared_passages_and_near_copies_of_real_articles(shared_data):
    """Real articles (extraction ground truth): a copy with every 12th word changed (word 5-gram
    Jaccard ~0.3) and a page that quotes one paragraph join the article's group; unrelated
    articles stay apart; the most common 13-grams do not chain everything together."""
    import random

    from pipeline.splits import Postings, groups, ngram_sets

    arts = [json.loads(line)["text"] for line in (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl")
            .read_text().splitlines()[:60]]
    arts = [a for a in arts if len(a.split()) > 300][:20]
    rng = random.Random(0)
    words = arts[0].split()
    edited = " ".join(w if k % 12 else rng.choice(["alpha", "beta", "gamma"]) for k, w in enumerate(words))
    quote = arts[1] + "\n\n" + " ".join(words[100:160])
    docs = arts + [edited, quote, arts[2]]  # the last: an exact copy under another id
    g = groups(Postings(ngram_sets(docs)), max_df=25)
    assert g[len(arts)] == g[0] and g[len(arts) + 1] == g[0] == g[1] and g[len(arts) + 2] == g[2]
    assert len({g[k] for k in range(3, len(arts))}) == len(arts) - 3 and g[3] != g[0]
    # 13-grams found in more than max_df documents (common phrasing) do not link
    boiler = " ".join(f"w{k}" for k in range(20))
    g2 = groups(Postings(ngram_sets([a + " " + boiler for a in arts[3:]])), max_df=5)
    assert len(set(g2)) == len(arts) - 3


def test_compiled_ngram_sets_share_what_the_word_regex_shares(shared_data):
    """The shards step's n-gram sets come from one compiled pass with its own hashes; on real
    pages they must link the same documents as lowercased `\\w+` words hashed in Python would:
    the same distinct n-grams per document, the same document frequencies, the same groups."""
    from pipeline.splits import Postings, groups, ngram_sets
    from pipeline.text import ngram_hashes, words

    texts = []
    for gt in sorted((shared_data / "extraction").glob("*/ground_truth.jsonl")):
        texts += [json.loads(line)["text"] or "" for line in gt.open(encoding="utf-8")]
    arts = texts[:300]
    texts += [arts[5] + " " + arts[6][:2000], arts[7].upper(), "Ünïcödé wörds, ß and İ: ２３ x_y", "", "..."]
    texts += [" ".join(t.split()[:5]) for t in arts[:20]]  # shorter than 13 words
    ref = [np.unique(ngram_hashes(words(t.lower()), 13)) if words(t.lower()) else np.empty(0, np.uint64)
           for t in texts]
    got = ngram_sets(texts, batch=97)
    assert [len(a) for a in got] == [len(a) for a in ref] and sum(map(len, got)) > 100_000
    assert all(np.all(a[1:] > a[:-1]) for a in got)  # sorted, distinct
    posts = [Postings(got), Postings(ref)]
    df = [np.unique(p.hashes, return_counts=True)[1] for p in posts]
    assert np.array_equal(np.sort(df[0]), np.sort(df[1]))
    for max_df in (2, 25, 100):
        assert np.array_equal(groups(posts[0], max_df), groups(posts[1], max_df))


def test_subset_statistics_from_the_sorted_postings_equal_their_definitions(shared_data):
    """A budget's repeated 13-gram share and the validation overlap are masks over one sorted
    postings list; on real pages (with planted copies and quotes) they must equal the plain
    definitions computed from each subset's own sets."""
    import collections
    import random

    from pipeline.splits import Postings, ngram_sets, overlap, repeated_share

    texts = [json.loads(line)["text"] or "" for line in (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl")
             .read_text(encoding="utf-8").splitlines()[:400]]
    texts += texts[:30] + [t + " " + texts[k + 1][:3000] for k, t in enumerate(texts[40:60])] + [""]
    sets = ngram_sets(texts)
    p = Postings(sets)
    rng = random.Random(1)
    for _ in range(5):
        member = np.array([rng.random() < 0.4 for _ in texts])
        val = ~member & np.array([rng.random() < 0.3 for _ in texts])
        sub = [sets[k] for k in np.flatnonzero(member)]
        _, inv, counts = np.unique(np.concatenate(sub), return_inverse=True, return_counts=True)
        assert repeated_share(p, member) == float(np.mean(counts[inv] > 1)) > 0
        v = np.unique(np.concatenate([sets[k] for k in np.flatnonzero(val)]))
        in_train = collections.Counter(h for s in sub for h in s.tolist())
        df = np.array([in_train[h] for h in v.tolist()])
        assert overlap(p, val, member) == float(np.mean((df >= 1) & (df <= 10))) > 0
    assert repeated_share(p, np.zeros(len(texts), bool)) == 0.0 == overlap(p, np.zeros(len(texts), bool), member)


def test_documents_with_several_texts_are_grouped_on_the_union_of_their_n_grams(shared_data):
    """A document with several texts (one per variant) is grouped on the union of their n-grams,
    an n-gram counted once a document: grouping the texts' postings with each text's document
    must give the groups of the unions built directly, on real pages."""
    from pipeline.splits import Postings, groups, ngram_sets

    docs = [json.loads(line)["text"] or "" for line in (shared_data / "extraction" / "l3s-gn1" / "ground_truth.jsonl")
            .read_text(encoding="utf-8").splitlines()[:300]]
    docs += [docs[3] + " " + docs[4][:2000]]  # a shared passage links two documents
    texts, owner = [], []
    for k, d in enumerate(docs):  # the text, and for every other document a version without its first line
        texts.append(d)
        owner.append(k)
        if k % 2 and "\n" in d:
            texts.append(d.split("\n", 1)[1])
            owner.append(k)
    sets = ngram_sets(texts)
    unions = Postings([np.unique(np.concatenate([sets[t] for t in range(len(texts)) if owner[t] == k]))
                       for k in range(len(docs))])
    joined = set()
    for max_df in (2, 5, 100):
        by_text = groups(Postings(sets), max_df, np.array(owner), len(docs))
        assert np.array_equal(by_text, groups(unions, max_df))
        joined.add(int((by_text != np.arange(len(docs))).sum()))
    assert max(joined) > 0  # some documents were joined


def test_mix_holds_exact_token_shares_of_kept_and_dropped_documents(sharded):
    tmp, _ = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    mix = man["variants"]["mix"]
    assert mix["mix"]["share"] == 0.25 and list(mix["budgets"]) == ["40K"]
    b = mix["budgets"]["40K"]
    dropped = set(pq.read_table(tmp / "out" / "03_dedup" / "drops.parquet")["id"].to_pylist())
    deduped = set(doc_ids(folder, man["variants"]["deduped"]["budgets"]["80K"]))
    val = set(doc_ids(folder, man["validation"]))
    per = {"dropped": 0, "kept": 0}
    for i, toks in budget_rows(folder, b):
        assert i not in val
        if i in dropped:
            per["dropped"] += len(toks)
        else:
            assert i in deduped  # the clean part is a prefix of deduped's own order
            per["kept"] += len(toks)
    assert per == {"dropped": 10_000, "kept": 30_000}
    assert per == {"dropped": b["composition"]["dedup"], "kept": b["composition"]["kept"]}


def test_nested_budgets_are_stored_once(sharded):
    """Budgets B1 < ... < Bk of a variant take the disk of Bk alone: each budget names a prefix of
    one shard sequence. A mix's budgets are drawn apart and keep sequences of their own."""
    tmp, _ = sharded
    folder = tmp / "out" / "shards"
    man = json.loads((folder / "manifest.json").read_text())
    for name, v in man["variants"].items():
        if v.get("mix"):
            continue
        largest = max(v["budgets"].values(), key=lambda b: b["target"])
        files = {p for p in (folder / name).rglob("*.arrow")}
        assert files == {folder / s["path"] for s in largest["shards"]}  # nothing stored twice
        on_disk = sum(p.stat().st_size for p in files)
        assert on_disk == sum((folder / s["path"]).stat().st_size for s in largest["shards"])
        for b in v["budgets"].values():
            assert b["shards"] == largest["shards"][:len(b["shards"])]  # a prefix
            assert sum(s["tokens"] for s in b["shards"][:-1]) < b["tokens"] <= sum(s["tokens"] for s in b["shards"])
