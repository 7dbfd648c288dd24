"""Quality rules at and around their published thresholds, with hand-written documents."""
from __future__ import annotations

import pytest

from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.stages.quality import Config, QualityStage
from pipeline.stages.quality_measures import Features
from pipeline.stages.quality_rules.c4 import c4_lines
from pipeline.stages.quality_rules.gopher_quality import gopher_quality
from pipeline.stages.quality_rules.gopher_repetition import gopher_repetition

OFF = dict(gopher_quality="off", gopher_repetition="off", c4="off", fineweb="off", language="off")
WORDS = ("river stone garden window market silver forest candle harbor meadow orange pencil "
         "bridge lantern valley copper ribbon castle thunder saddle").split()


def prose(n: int, start: int = 0) -> str:
    """n distinct-ish words with two stop words, no repeated n-grams."""
    ws = [f"{WORDS[(start + i) % 20]}{chr(97 + (start + i) // 20 % 26)}{chr(97 + (start + i) // 520 % 26)}"
          for i in range(n - 2)]
    return " ".join(["the"] + ws + ["and"])


def reason(text: str, **cfg) -> str | None:
    st = QualityStage(Config(**{**OFF, **cfg}))
    st.setup()
    out = st.process_batch([Document("d", text)])[0]
    return out.reason if isinstance(out, Drop) else None


# --- Gopher quality ---------------------------------------------------------------------------
def test_min_and_max_words():
    assert reason(prose(50), gopher_quality="drop") is None
    assert reason(prose(49), gopher_quality="drop") == "gopher_min_words"
    assert reason(prose(120), gopher_quality="drop", max_words=120) is None
    assert reason(prose(121), gopher_quality="drop", max_words=120) == "gopher_max_words"


def test_mean_word_length_bounds():
    ok_short = " ".join(["the", "and"] + ["abc"] * 98)          # mean exactly 3
    assert gopher_quality(Features(ok_short)).mean_word_length == 3.0
    assert reason(ok_short, gopher_quality="drop") is None
    assert reason(ok_short.replace("abc", "ab", 1), gopher_quality="drop") == "gopher_mean_word_length"
    long = " ".join(["the", "and"] + ["abcdefghijkl"] * 98)     # mean (3+3+98*12)/100 = 11.82
    assert reason(long, gopher_quality="drop") == "gopher_mean_word_length"
    ten = " ".join(["thethethet", "andandanda"] * 2 + ["the", "and"] + ["abcdefghij"] * 96)
    m = gopher_quality(Features(ten)).mean_word_length
    assert m < 10 and reason(ten, gopher_quality="drop") is None


def test_hash_and_ellipsis_ratio():
    base = prose(90)
    at = base + " #" * 10          # 10 '#' in 100 words (each '#' is a word, as in DataTrove)
    assert gopher_quality(Features(at)).hash_ratio == pytest.approx(0.1)
    assert reason(at, gopher_quality="drop") is None
    assert reason(at + " #", gopher_quality="drop") == "gopher_hash_ratio"
    dots = "... " * 10 + base
    assert reason(dots, gopher_quality="drop") is None
    assert reason("... " + dots, gopher_quality="drop") == "gopher_ellipsis_ratio"


def test_bullet_and_ellipsis_lines():
    lines = [prose(10, start=10 * i) for i in range(10)]
    bullets = "\n".join(("- " + l) if i < 9 else l for i, l in enumerate(lines))
    assert gopher_quality(Features(bullets)).bullet_lines == 0.9
    assert reason(bullets, gopher_quality="drop") is None
    assert reason("\n".join("• " + l for l in lines), gopher_quality="drop") == "gopher_bullet_lines"
    ell = "\n".join(l + (" …" if i < 3 else "") for i, l in enumerate(lines))
    assert gopher_quality(Features(ell)).ellipsis_lines == 0.3
    assert reason(ell, gopher_quality="drop") is None
    ell4 = "\n".join(l + (" …" if i < 4 else "") for i, l in enumerate(lines))
    assert reason(ell4, gopher_quality="drop") == "gopher_ellipsis_lines"


def test_alpha_words_ratio_and_word_split():
    text = prose(80) + " 1" * 20          # 80 of 100 words have a letter
    assert gopher_quality(Features(text)).alpha_words == 0.8
    assert reason(text, gopher_quality="drop") is None
    assert reason(text + " 2", gopher_quality="drop") == "gopher_alpha_words"
    punct = "the and " + ", ".join(prose(60).split()[1:-1]) + "."  # commas are words for spaCy only
    assert reason(punct, gopher_quality="drop") == "gopher_alpha_words"
    assert reason(punct, gopher_quality="drop", word_split="whitespace") is None


def test_stop_words():
    assert reason(prose(60), gopher_quality="drop") is None
    assert reason(prose(60).replace("and", "tree"), gopher_quality="drop") == "gopher_stop_words"


# --- Gopher repetition ------------------------------------------------------------------------
def test_duplicate_lines_and_paragraphs():
    uniq = [prose(12, start=12 * i) for i in range(7)]
    dup = "short dup line"
    at = "\n".join(uniq + [dup] * 4)       # 11 lines, 3 repeats: 0.27 <= 0.3
    m = gopher_repetition(Features(at), (), ())
    assert m.dup_line_frac == pytest.approx(3 / 11)
    assert reason(at, gopher_repetition="drop") is None
    over = "\n".join(uniq + [dup] * 5)     # 4 repeats of 12 lines: 0.33 > 0.3
    assert reason(over, gopher_repetition="drop") == "gopher_dup_line_frac"
    paras = "\n\n".join(uniq[:2] + [uniq[0]] * 2)
    assert reason(paras, gopher_repetition="drop") == "gopher_dup_para_frac"


def test_duplicate_line_chars():
    long_dup = prose(60, start=300)
    text = "\n".join([prose(20, start=0), prose(20, start=60), prose(20, start=120), long_dup, long_dup])
    m = gopher_repetition(Features(text), (), ())
    assert m.dup_line_frac == 0.2 and m.dup_line_char_frac > 0.2
    assert reason(text, gopher_repetition="drop") == "gopher_dup_line_char_frac"


def test_top_and_duplicated_ngrams():
    rep = " ".join(["alpha beta"] * 30) + " " + prose(60)
    m = gopher_repetition(Features(rep), (2,), (5,))
    assert m.top_ngram_char_frac[2] > 0.2
    assert reason(rep, gopher_repetition="drop") == "gopher_top_2gram"
    assert reason(prose(200), gopher_repetition="drop") is None
    chunk = prose(12, start=900)
    five = prose(150) + " " + chunk + " " + chunk
    frac = gopher_repetition(Features(five), (), (5,)).dup_ngram_char_frac[5]
    assert 0.0 < frac < 0.15 and reason(five, gopher_repetition="drop") is None
    six = prose(40) + " " + " ".join([chunk] * 4)
    assert reason(six, gopher_repetition="drop").startswith("gopher_dup_")


# --- C4 ---------------------------------------------------------------------------------------
def test_c4_lines_and_page_rules():
    good = ["This is the first full sentence here.", "Here is a second one! And a third?",
            "The fourth sentence ends well.", "Then a fifth sentence closes it."]
    page = "\n".join(good + ["Menu Home About", "Enable javascript to view this page.",
                             "We use cookies to improve it.", "two words."])
    r = c4_lines(page, terminal_punct=True, min_words_per_line=3, max_word_length=1000, remove_citations=True,
                 javascript=True, policy=True, lorem_ipsum=True, curly_bracket=True)
    assert r.text == "\n".join(good) and r.sentences == 5
    assert r.lines_removed == {"no_terminal_punct": 1, "javascript": 1, "policy": 1, "too_few_words": 1}
    assert reason(page, c4="drop", c4_terminal_punct=True) is None
    assert reason("\n".join(good[:3]), c4="drop", c4_terminal_punct=True) == "c4_too_few_sentences"
    assert reason(page + "\nLorem ipsum dolor sit amet.", c4="drop") == "c4_lorem_ipsum"
    assert reason(page + "\nUse {braces} like this.", c4="drop", c4_curly_bracket=True) == "c4_curly_bracket"
    assert reason(page + "\nUse {braces} like this.", c4="drop") is None  # FineWeb-style default
    cited = c4_lines("A cited claim here.[1] More text [citation needed] follows here.", terminal_punct=False,
                     min_words_per_line=3, max_word_length=1000, remove_citations=True, javascript=True,
                     policy=True, lorem_ipsum=True, curly_bracket=False)
    assert cited.text == "A cited claim here. More text  follows here."


def test_c4_drop_mode_rewrites_text_and_counts_lines():
    text = "\n".join(["Sentence number %d is fine." % i for i in range(6)] + ["Click javascript now please."])
    st = QualityStage(Config(**{**OFF, "c4": "drop"}))
    st.setup()
    res = st.apply([Document("d", text)])
    assert "javascript" not in res.kept[0].text and res.stats.counters["c4_lines_removed.javascript"] == 1


# --- FineWeb ----------------------------------------------------------------------------------
def test_fineweb_rules():
    long_lines = [prose(12, start=12 * i) + "." for i in range(8)]
    assert reason("\n".join(long_lines), fineweb="drop") is None
    no_punct = "\n".join(l.rstrip(".") for l in long_lines)
    assert reason(no_punct, fineweb="drop") == "fineweb_line_punct_ratio"
    short = "\n".join(long_lines[:3] + ["tiny line %s." % c for c in "abcdefg"])
    assert reason(short, fineweb="drop") == "fineweb_short_line_ratio"   # 7/10 > 0.67
    dup = "\n".join(long_lines + [long_lines[0]])
    assert reason(dup, fineweb="drop") == "fineweb_char_dup_ratio"
    listy = "\n".join(f"{w}alpha {w}beta {w}gamma {w}delta{k}." for k in (1, 2) for w in WORDS)
    ratio = Features(listy).text.count("\n") / len(Features(listy).words)  # 39 / (160 words + 40 '.')
    assert ratio == pytest.approx(39 / 200)
    assert reason(listy, fineweb="drop", max_newline_word_ratio=0.19) == "fineweb_list_ratio"
    assert reason(listy, fineweb="drop", max_newline_word_ratio=0.195) is None


# --- language, tag mode, config ---------------------------------------------------------------
def test_language_filter_with_score_in_meta():
    en = "The committee decided on Tuesday to build new cycle lanes across the city centre next year."
    de = "Der Stadtrat hat am Dienstag beschlossen, im nächsten Jahr neue Radwege in der Innenstadt zu bauen."
    st = QualityStage(Config(**{**OFF, "language": "drop"}))
    st.setup()
    a, b = st.process_batch([Document("en", en), Document("de", de)])
    assert isinstance(a, Document) and a.meta["quality"]["language"] == "en"
    assert a.meta["quality"]["language_score"] > 0.65
    assert isinstance(b, Drop) and b.reason == "language"
    assert reason(de, language="drop", languages=("de",)) is None


def test_tag_mode_keeps_and_records_flags():
    st = QualityStage(Config(**{**OFF, "gopher_quality": "tag", "fineweb": "tag"}))
    st.setup()
    (out,) = st.process_batch([Document("d", "too short, no punctuation")])
    assert isinstance(out, Document)
    assert out.meta["quality"]["flags"] == ["gopher_min_words", "fineweb_line_punct_ratio"]
    assert out.meta["quality"]["gopher_quality"]["n_words"] == 4


def test_bad_config():
    with pytest.raises(ConfigError, match="min_alpha_words = 1.2"):
        Config(min_alpha_words=1.2)
    with pytest.raises(ConfigError, match="quality.c4 = 'strict'"):
        Config(c4="strict")
    with pytest.raises(ConfigError, match="word_split"):
        Config(word_split="nltk")


def test_planted_low_quality_on_default_corpus(tmp_path, sample_corpus):
    from pipeline.config import load_run_config
    from pipeline.runner import run
    from tests.conftest import write_config

    cfg = write_config(tmp_path / "q.toml", sample_corpus["dir"] / "warc", tmp_path / "out",
                       stages='[[stages]]\nname = "html"\n[[stages]]\nname = "safety"\n'
                              '[[stages]]\nname = "quality"\nword_split = "whitespace"\n',
                       input_extra=f'format = "warc"\nlabels = "{sample_corpus["dir"] / "labels.jsonl"}"\n')
    res = run(load_run_config(cfg), progress=False)
    html, _, quality = res.report["stages"][1:]
    gt = quality["ground_truth"]
    planted = sample_corpus["manifest"]["kinds"]["low_quality"]
    removed = gt["targets_dropped"] + html["drops"].get("html.no_main_text", 0)
    print(f"\n[quality on planted low-quality pages] stage recall {gt['recall']}, pipeline recall "
          f"{removed / planted:.3f}, clean dropped {gt['clean_dropped_share']}")
    assert gt["recall"] >= 0.9 and removed / planted >= 0.9
    assert gt["clean_dropped_share"] <= 0.05
