"""`corpusprep inspect` on the default run (the default corpus through html, safety, quality, dedup
and decontam, as configs/default.toml runs it): the documents it shows were really dropped for
the reason asked, with measures that fail the threshold; a planted near duplicate names its
cluster; the planted GSM8K leaks show their spans; --what-if equals a real re-run, exactly."""
from __future__ import annotations

import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_run_config
from pipeline.errors import ConfigError
from pipeline.inspect_run import RunView
from pipeline.inspect_views import cluster_view, doc_view, leaks_view, reason_view
from pipeline.inspect_whatif import what_if
from pipeline.runner import run
from pipeline.stages.decontam_index import lm_eval_words as normal_words
from tests.conftest import REPO, read_jsonl, run_cli

STAGES = ("html", "safety", "quality", "dedup", "decontam")


def _config(tmp, sample, name: str, stages=STAGES) -> str:
    text = (REPO / "configs" / "default.toml").read_text().split("[shards]")[0]
    text = text.replace("../out/sample", str(sample)).replace("../out/default", str(tmp / name))
    text = text.replace("../data_cards", str(tmp / "cards")).replace('name = "default"', f'name = "{name}"')
    blocks = text.split("[[stages]]")
    text = blocks[0] + "".join("[[stages]]" + b for b in blocks[1:] if b.split('"')[1] in stages)
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, sample_corpus):
    tmp = tmp_path_factory.mktemp("inspect")
    res = run(load_run_config(_config(tmp, sample_corpus["dir"], "default")), progress=False)
    labels = {x["id"]: x for x in read_jsonl(sample_corpus["dir"] / "labels.jsonl")}
    return {"tmp": tmp, "view": RunView(res.out_dir), "report": res.report, "labels": labels,
            "sample": sample_corpus["dir"], "card": res.card_path.parent}


def _fails(value, op, threshold) -> bool:
    if op == "not in":
        return value not in threshold
    return {"<": value < threshold, ">": value > threshold, ">=": value >= threshold}[op]


def test_reason_shows_real_drops_with_measures_that_fail(default_run):
    view = default_run["view"]
    drops = pq.read_table(view.folder("quality") / "drops.parquet").to_pylist()
    by_reason = {}
    for d in drops:
        by_reason.setdefault(d["reason"], set()).add(d["id"])
    checked = 0
    for code, ids in by_reason.items():
        ans = reason_view(view, code, n=3, seed=1)
        assert ans["dropped"] == len(ids) and 1 <= len(ans["shown"]) <= 3
        for x in ans["shown"]:
            assert x["id"] in ids
            assert x["checks"], code  # the measure against its threshold
            for measure, value, op, threshold in x["checks"]:
                assert _fails(value, op, threshold), (code, measure, value, op, threshold)
                checked += 1
    assert checked >= 20
    dup = reason_view(view, "quality.gopher_dup_5gram", n=2)["shown"][0]
    marked = re.search(r"»(.+?)«", dup["excerpt"], re.S)  # the repeated 5-gram, marked
    assert marked and len(marked.group(1).split()) == 5
    bad = reason_view(view, "safety.bad_word_ratio", n=3)
    for x in bad["shown"]:
        (_, ratio, op, t), = x["checks"]
        assert ratio > t == 0.01 and x["found"]
        assert re.search(r"»(.+?)«", x["excerpt"]).group(1).lower() in x["found"]
    with pytest.raises(ConfigError, match="its quality reasons: quality.c4_too_few_sentences"):
        reason_view(view, "quality.no_such_rule")


def test_doc_names_the_cluster_and_kept_member_of_a_planted_near_duplicate(default_run):
    view, labels = default_run["view"], default_run["labels"]
    dedup_drops = dict(zip(*(pq.read_table(view.drops_file("dedup"))[k].to_pylist() for k in ("id", "detail"))))
    planted = [x for x in labels.values() if x["kind"] == "near_dup" and x["id"] in dedup_drops]
    assert len(planted) >= 20
    for lab in planted[:5]:
        ans = doc_view(view, lab["id"])
        last = ans["steps"][-1]
        assert ans["final"] == "dropped" and last["step"] == "dedup" and last["reason"] == "dedup.minhash"
        kept = last["cluster"]["kept"]
        assert kept == dedup_drops[lab["id"]] and lab["id"] in last["cluster"]["members"]
        assert lab["of"] in {kept, *last["cluster"]["members"]}  # the planted original is in it
        assert [s["verdict"] for s in ans["steps"][:-1]] == ["kept"] * (len(ans["steps"]) - 1)
        assert "measures" in next(s for s in ans["steps"] if s["step"] == "quality")
        c = cluster_view(view, lab["id"])
        j = {m["id"]: m["jaccard"] for m in c["members"]}
        assert j[lab["id"]] >= 0.7 and abs(j[lab["id"]] - lab["jaccard"]) < 0.1  # same shingles as the label's
    with pytest.raises(ConfigError, match="no document 'nope'"):
        doc_view(view, "nope")


def test_leaks_show_the_planted_gsm8k_items_spans(default_run):
    from pipeline.testsets import load_benchmark

    view, labels = default_run["view"], default_run["labels"]
    planted = {x["id"]: x for x in labels.values() if x["kind"] == "leak" and x["benchmark"] == "gsm8k"}
    ans = leaks_view(view, "gsm8k", n=1000)
    shown = {d["id"]: d for d in ans["shown"]}
    reached = {i for i in planted if view.drop_of("decontam", i) is not None}
    assert len(reached) >= 30 and reached <= set(shown)
    spec = next(s for s in view.stage("decontam").config.specs() if s.name == "gsm8k")
    items = load_benchmark(spec).items
    for doc_id in sorted(reached):
        d, lab = shown[doc_id], planted[doc_id]
        assert lab["item"] in d["items"] and d["spans"], doc_id
        item_words = " ".join(normal_words(items[lab["item"]]))
        span = re.search(r"»(.+?)«", d["spans"][0], re.S).group(1)
        words = normal_words(span)
        inside = sum(w in item_words.split() for w in words) / len(words)
        assert len(words) >= 13 and inside >= 0.8, (doc_id, span[:200])
    with pytest.raises(ConfigError, match="its benchmarks: gsm8k"):
        leaks_view(view, "nosuchbench")


@pytest.mark.parametrize("settings", [
    ["stages.quality.dup_ngram_char_frac={5=0.2,6=0.14,7=0.13,8=0.12,9=0.11,10=0.10}",
     "stages.quality.min_language_score=0.8"],
    ["stages.quality.min_stop_words=3", "stages.quality.c4_min_sentences=3", "stages.quality.max_short_line_ratio=0.5"],
    ["stages.safety.max_words_ratio=0.03", "stages.safety.url=tag"],
    ["stages.safety.words_rule=c4", "stages.safety.c4_keep_fraction=0.5"],
])
def test_what_if_equals_a_real_rerun(default_run, settings, tmp_path):
    ans = what_if(default_run["view"], settings)
    assert ans["newly_kept"]["docs"] + ans["newly_dropped"]["docs"] > 0  # the setting changes something
    stage = settings[0].split(".")[1]
    cfg = load_run_config(_config(tmp_path, default_run["sample"], "rerun", STAGES[:STAGES.index(stage) + 1]), settings)
    real = next(s for s in run(cfg, progress=False).report["stages"] if s["stage"] == stage)
    assert ans["docs_in"] == real["docs_in"] and ans["kept_after"] == real["docs_out"]
    assert ans["drops_after"] == real["drops"] and ans["dropped_bytes_after"] == real["dropped_bytes"]


def test_what_if_refuses_what_it_cannot_decide_and_stale_measures(default_run, tmp_path):
    view = default_run["view"]
    with pytest.raises(ConfigError, match="c4_min_words_per_line changes what is measured"):
        what_if(view, ["stages.quality.c4_min_words_per_line=2"])
    with pytest.raises(ConfigError, match="keeps its keys"):
        what_if(view, ["stages.quality.top_ngram_char_frac={2=0.2}"])
    with pytest.raises(ConfigError, match="stored no measures"):
        what_if(view, ["stages.dedup.jaccard_threshold=0.8"])
    with pytest.raises(ConfigError, match="safety.bad_words changes what is measured"):
        what_if(view, ["stages.safety.bad_words=[]"])
    copy = tmp_path / "run"
    shutil.copytree(view.root, copy)
    f = copy / view.folder("quality").name / "measures.parquet"
    t = pq.read_table(f)
    col = t.column_names.index("gopher_quality.n_words")
    t = t.set_column(col, "gopher_quality.n_words", pa.array([10**6] * len(t), pa.int64()))
    pq.write_table(t, f)
    with pytest.raises(ConfigError, match="do not reproduce its drops"):
        what_if(RunView(copy), ["stages.quality.min_words=30"])


def test_cli_answers_from_a_card_folder_too(default_run):
    res = run_cli("inspect", str(default_run["view"].root), "--reason", "dedup.exact", "--n", "2", "--json")
    ans = json.loads(res.stdout)
    assert ans["reason"] == "dedup.exact" and len(ans["shown"]) == 2 and ans["shown"][0]["checks"][0][1] == 1.0
    out = run_cli("inspect", str(default_run["card"]), "--what-if", "quality.min_words=200").stdout
    assert "what if quality: min_words 50 -> 200" in out and "dropped in addition" in out
    bad = run_cli("inspect", str(default_run["card"]), "--doc", "nope", check=False)
    assert bad.returncode == 2 and "no document 'nope'" in bad.stderr


# --- the HTML explorer, opened in headless Chromium ----------------------------------------------
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0")


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    msg = "no Chromium found (Debian: apt-get install chromium; .ci/run installs it): explorer test skipped"
    print(msg)
    pytest.skip(msg)


def _chromium(browser: str, tmp, url: str, *args: str) -> tuple[str, list[str]]:
    """stdout, and the page's console messages (Chromium logs them to stderr as CONSOLE lines)."""
    import subprocess

    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    res = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                         capture_output=True, text=True, timeout=120)
    return res.stdout, [line for line in res.stderr.splitlines() if ":CONSOLE" in line]


def test_html_explorer_in_headless_chromium(default_run, tmp_path):
    import matplotlib.image as mpimg

    from pipeline.card_html import write_explorer

    browser = _browser()
    path = write_explorer(default_run["view"])
    assert path == default_run["card"] / "explorer.html" and path.stat().st_size < 5e6
    assert "[explorer.html](explorer.html)" in (default_run["card"] / "README.md").read_text()
    planted = tmp_path / "broken.html"  # the console check can fail: a page with an error is caught
    planted.write_text("<!doctype html><body><p>x</p><script>noSuchFunction()</script></body>")
    assert any("noSuchFunction" in m for m in _chromium(browser, tmp_path, planted.as_uri(), "--dump-dom")[1])
    dom, console = _chromium(browser, tmp_path, path.as_uri(), "--dump-dom")
    assert console == []
    for section in ("funnel", "measures", "reasons", "clusters", "leaks"):
        assert f'<section id="{section}">' in dom, section
    for s in default_run["report"]["stages"]:
        for code in s["drops"]:
            assert f"<code>{code}</code>" in dom, code
    assert dom.count("data:image/png;base64,") >= 20  # the funnel and one histogram per measure
    assert dom.count("<mark>") >= 10  # triggers and matched benchmark spans marked
    shot = tmp_path / "shot.png"
    _, console = _chromium(browser, tmp_path, path.as_uri(), f"--screenshot={shot}", "--window-size=1280,2000")
    pixels = mpimg.imread(shot)[..., :3]
    assert console == [] and pixels.std() > 0.1 and (pixels.mean(axis=2) < 0.9).mean() > 0.02  # not blank


def test_explorer_shows_raw_html_beside_the_text_where_the_run_kept_it(default_run, tmp_path):
    from pipeline.card_html import write_explorer

    cfg = load_run_config(_config(tmp_path, default_run["sample"], "all", STAGES[:3]),
                          ["run.stage_outputs=all", "run.limit=300"])
    res = run(cfg, progress=False)
    page = write_explorer(RunView(res.out_dir), tmp_path / "explorer.html").read_text()
    assert "<b>raw HTML</b>" in page and "&lt;html" in page.lower()  # escaped, beside the extracted text
    assert "The raw pages are not shown" not in page
