"""Safety stage: planted unsafe pages, word matching, URL rules, classifier, modes, bad config."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.config import load_run_config
from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.runner import run
from pipeline.stages.safety import Config, SafetyStage
from pipeline.wordlists import WordMatcher, normalize_host, url_host
from tests.conftest import run_cli, write_config


def stage(tmp_path: Path, listed=("porn", "hardcore sex", "Scunthorpe-free"), domains=("blocked.example",),
          **kw) -> SafetyStage:
    def lst(name, entries):
        p = tmp_path / name
        p.write_text("# comment\n" + "\n".join(entries) + "\n", encoding="utf-8")
        return (str(p),)
    cfg = Config(bad_words=lst("w.txt", listed), domain_lists=lst("d.txt", domains),
                 url_banned_words=lst("ub.txt", ["xxx"]), url_soft_banned_words=lst("us.txt", ["hot", "teen", "girls"]),
                 url_substrings=lst("sub.txt", ["pornhub"]), **kw)
    s = SafetyStage(cfg)
    s.setup()
    return s


def test_planted_unsafe_pages_recall_and_precision(tmp_path, sample_corpus):
    cfg = write_config(tmp_path / "s.toml", sample_corpus["dir"] / "warc", tmp_path / "out",
                       stages='[[stages]]\nname = "html"\n[[stages]]\nname = "safety"\n',
                       input_extra=f'format = "warc"\nlabels = "{sample_corpus["dir"] / "labels.jsonl"}"\n')
    res = run(load_run_config(cfg), progress=False)
    gt = res.report["stages"][-1]["ground_truth"]
    print(f"\n[safety on planted unsafe pages] recall {gt['recall']} precision {gt['precision']} "
          f"clean dropped {gt['clean_dropped']}/{gt['clean_in']}")
    assert gt["targets_in"] >= 30
    assert gt["recall"] >= 0.95 and gt["precision"] >= 0.95
    stats = json.loads((tmp_path / "out" / "02_safety" / "stats.json").read_text())
    assert stats["ground_truth"] == gt  # printed in the stage's own stats


@pytest.mark.parametrize("text", ["Scunthorpe United won.", "A cocktail party", "The assessment of the class",
                                  "pornography laws", "hardcoresex is one token", "sexton and essex", "analysis"])
def test_no_match_inside_other_words(tmp_path, text):
    m = WordMatcher.build(["porn", "hardcore sex", "cock", "ass", "sex", "anal"])
    assert m.count(text)[0] == 0


def test_phrases_case_unicode_and_unspaced_scripts():
    m = WordMatcher.build(["hardcore sex", "порно", "ß-wort", "色情", "naïve phrase"])
    for text, n in [("HARDCORE   Sex here", 1), ("hardcore\nsex", 1), ("hardcore, sex", 1), ("hardcore", 0),
                    ("Это ПОРНО сайт", 1), ("Ein ß-Wort.", 1), ("这是色情网站", 1), ("порнография", 0),
                    ("A NAÏVE Phrase!", 1), ("hardcore sex, Hardcore sex", 2)]:
        assert m.count(text)[0] == n, text


def test_url_normalisation_and_rules(tmp_path):
    s = stage(tmp_path, domains=("blocked.example", "bücher.example", "trailing.example."))
    assert normalize_host("WWW.Blocked.Example.:8080") == "blocked.example"
    assert url_host("http://user@Sub.Blocked.Example:443/p") == "sub.blocked.example"
    cases = {
        "HTTP://WWW.BLOCKED.EXAMPLE:8080/page": "url_domain",
        "https://a.b.blocked.example/x": "url_domain",
        "https://notblocked.example/": None,
        "https://blocked.example.org/": None,
        "http://xn--bcher-kva.example/buch": "url_domain",
        "http://bücher.example/": "url_domain",
        "https://trailing.example/": "url_domain",
        "https://site.example/watch-pornhubvideo": "url_substring",
        "https://site.example/xxx/page": "url_banned_word",
        "https://site.example/xxxl-shirts": None,
        "https://site.example/hot-teen-girls": "url_soft_banned",
        "https://site.example/hot-dogs": None,
    }
    assert {u: s.url_verdict(u) for u in cases} == cases


def test_word_rules_ratio_c4_and_keep_fraction(tmp_path):
    clean = "This page explains arrays. " * 40 + "One porn word."  # 1 in 163 words
    spam = "Free porn and hardcore sex videos, porn every day. " * 5
    s = stage(tmp_path)
    out = s.process_batch([Document("c", clean), Document("s", spam)])
    assert isinstance(out[0], Document) and out[0].meta["safety"]["bad_words"] == 1
    assert isinstance(out[1], Drop) and out[1].reason == "bad_word_ratio"
    c4 = stage(tmp_path, words_rule="c4")
    assert [getattr(r, "reason", None) for r in c4.process_batch([Document("c", clean), Document("s", spam)])] \
        == ["bad_words", "bad_words"]
    half = stage(tmp_path, words_rule="c4", c4_keep_fraction=0.5)
    docs = [Document(f"d{i}", spam) for i in range(400)]
    kept = [d.id for d in half.process_batch(docs) if isinstance(d, Document)]
    kept2 = [d.id for d in half.process_batch([Document(f"d{i}", spam) for i in range(400)]) if isinstance(d, Document)]
    assert 150 < len(kept) < 250 and kept == kept2  # deterministic by id


def test_tag_mode_keeps_everything_with_scores(tmp_path):
    s = stage(tmp_path, url="tag", words="tag")
    spam = Document("s", "porn porn porn videos", url="https://blocked.example/")
    (out,) = s.process_batch([spam])
    assert isinstance(out, Document)
    assert out.meta["safety"]["url_rule"] == "url_domain" and out.meta["safety"]["bad_word_ratio"] == 0.75


def test_pii_masked_and_counted(tmp_path):
    s = stage(tmp_path)
    res = s.apply([Document("p", "Write to jane@example.com or call +1 415 555 0132 from 8.8.8.8.")])
    assert res.kept[0].text == "Write to <EMAIL> or call <PHONE> from <IP_ADDRESS>."
    assert res.stats.counters == {"pii.email": 1, "pii.phone": 1, "pii.ipv4": 1}


def test_fasttext_classifier_trained_locally(tmp_path):
    spam = [f"win money now casino bonus free spins offer {i} click here jackpot" for i in range(300)]
    clean = [f"the function returns an array with the sorted values of axis {i} and a copy" for i in range(300)]
    (tmp_path / "pos.txt").write_text("\n".join(spam))
    (tmp_path / "neg.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in clean))
    run_cli("train-classifier", "--pos", str(tmp_path / "pos.txt"), "--neg", str(tmp_path / "neg.jsonl"),
            "--out", str(tmp_path / "m.bin"), "--epoch", "5")
    s = stage(tmp_path, classifier="drop", classifier_model=str(tmp_path / "m.bin"))
    out = s.process_batch([Document("a", "casino jackpot free spins, win money now"),
                           Document("b", "returns a copy of the array sorted along the axis")])
    assert isinstance(out[0], Drop) and out[0].reason == "classifier"
    assert isinstance(out[1], Document) and out[1].meta["safety"]["classifier_score"] < 0.5


def test_bad_configuration_fails_at_startup(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"not a fasttext model")
    cases = [
        (dict(bad_words=(str(tmp_path / "missing.txt"),)), "missing.txt not found"),
        (dict(bad_words=(str(empty),)), "has no entries"),
        (dict(domain_lists=(str(latin),)), "is not UTF-8"),
        (dict(classifier="drop", classifier_model=str(tmp_path / "none.bin")), "none.bin not found"),
        (dict(classifier="drop", classifier_model=str(corrupt)), "cannot be loaded"),
    ]
    for kw, msg in cases:
        with pytest.raises(ConfigError, match=msg):
            SafetyStage(Config(**kw)).setup()
    with pytest.raises(ConfigError, match="max_words_ratio = 1.5: must be within"):
        Config(max_words_ratio=1.5)
    # through the CLI: the error comes before any data is read (no read output exists)
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "x"}\n')
    cfg = write_config(tmp_path / "bad.toml", inp, tmp_path / "out", input_extra="",
                       stages=f'[[stages]]\nname = "safety"\nbad_words = ["{empty}"]\n')
    res = run_cli("run", str(cfg), check=False)
    assert res.returncode == 2 and "has no entries" in res.stderr
    assert not (tmp_path / "out" / "00_read").exists()


def test_a_classifier_made_from_a_run_is_small_and_measured_on_documents_it_did_not_see(tmp_path, sample_corpus,
                                                                                        capsys):
    """The README's recipe on the default corpus: safety's drops (planted spam and adult pages) as
    positives against the run's kept pages. The default model is quantized (under 20 MB; the
    plain one was 524 MB) and reports its accuracy on a held-out tenth of each side."""
    from corpusprep.cli import main
    from pipeline.config import load_run_config
    from pipeline.runner import run

    stages = '[[stages]]\nname = "html"\n[[stages]]\nname = "safety"\n'
    cfg = write_config(tmp_path / "c.toml", sample_corpus["dir"] / "warc", tmp_path / "out", stages=stages,
                       extra_run="workers = 2")
    run(load_run_config(cfg), progress=False)
    model = tmp_path / "unsafe.bin"
    assert main(["train-classifier", "--pos-from", str(tmp_path / "out"), "--pos-reason",
                 "safety.bad_word_ratio,safety.url_domain", "--neg-from", str(tmp_path / "out"),
                 "--out", str(model)]) == 0
    printed = capsys.readouterr().out
    held = re.search(r"held-out accuracy ([\d.]+) on ([\d,]+) documents \(([\d,]+) positive: recall ([\d.]+)", printed)
    assert held and float(held[1]) >= 0.95 and int(held[3]) >= 5 and float(held[4]) >= 0.8, printed
    assert model.stat().st_size < 20_000_000
    s = stage(tmp_path, classifier="drop", classifier_model=str(model), url="off", words="off")
    assert s.config.classifier_model == str(model)  # loads as a stage's model


def test_a_renamed_key_fails_with_its_new_name(tmp_path):
    from pipeline.settings import build

    with pytest.raises(ConfigError, match=r"classifier_mode is now classifier; classifier_threshold is now "
                                          r"max_classifier_score"):
        build(Config, {"classifier_mode": "drop", "classifier_threshold": 0.9}, "stages.safety")
