"""HTML stage: extraction quality on a labelled set, structure, metadata, and bad input."""
from __future__ import annotations


import pytest

from pipeline.document import Document, Drop
from pipeline.encoding import decode_html
from pipeline.extraction_eval import bag_prf
from pipeline.stage import ConfigError
from pipeline.stages.html import Config, HtmlStage, extract
from tests.pipeline.html_labelled import CASES


def labelled_scores(parser: str) -> list[tuple[str, float, float, float]]:
    cfg = Config(parser=parser)
    return [(name, *bag_prf(extract(page, cfg)[0], exp)) for name, page, exp in CASES]


def test_labelled_set_is_varied_and_large_enough():
    names = {n for n, _, _ in CASES}
    assert len(CASES) >= 30
    for kind in ("news_article", "blog_post", "forum_thread", "docs_with_code", "product_page",
                 "data_table", "cookie_megamenu", "german_article", "french_recipe"):
        assert kind in names


@pytest.mark.parametrize("parser,min_f1", [("auto", 0.90), ("bs4", 0.85)])
def test_labelled_set_mean_f1(parser, min_f1, capsys):
    scores = labelled_scores(parser)
    p = sum(s[1] for s in scores) / len(scores)
    r = sum(s[2] for s in scores) / len(scores)
    f = sum(s[3] for s in scores) / len(scores)
    with capsys.disabled():
        print(f"\n[html labelled set, parser={parser}] precision {p:.3f} recall {r:.3f} F1 {f:.3f} "
              f"on {len(scores)} pages; worst: {min(scores, key=lambda s: s[3])}")
    assert f >= min_f1


def test_structure_paragraphs_lists_tables_code_entities():
    page = ("<html><body><main><h1>Title &amp; more</h1><p>First   paragraph\nwith  wrapped lines, "
            "long enough to count as prose for the test.</p><ul><li>one</li><li>two</li></ul>"
            "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
            "<pre>def f():\n    return 1</pre><blockquote>Quoted words.</blockquote></main></body></html>")
    text, _ = extract(page, Config())
    assert text == ("Title & more\n\nFirst paragraph with wrapped lines, long enough to count as prose "
                    "for the test.\n\none\ntwo\n\na | b\n1 | 2\n\ndef f():\n    return 1\n\nQuoted words.")


def test_boilerplate_removed_and_metadata_kept():
    page = ('<html lang="de-AT"><head><title> Seite  eins </title><link rel="canonical" href="https://x.at/1">'
            '<meta name="description" content="Kurz."><script>var a = "script text";</script>'
            "<style>p{}</style></head><body><nav><a href='/'>Start</a> <a href='/b'>Blog</a></nav>"
            "<div class='cookie-banner'>Wir verwenden Cookies.</div><article><p>Dies ist der eigentliche "
            "Inhalt der Seite, und er ist lang genug, um als Text zu gelten.</p></article><!-- comment -->"
            "<footer>Impressum</footer></body></html>")
    doc = HtmlStage().process(Document("d", page))
    assert isinstance(doc, Document)
    assert doc.text == "Dies ist der eigentliche Inhalt der Seite, und er ist lang genug, um als Text zu gelten."
    assert doc.meta["title"] == "Seite eins" and doc.meta["lang"] == "de-AT"
    assert doc.meta["canonical_url"] == "https://x.at/1" and doc.meta["description"] == "Kurz."


@pytest.mark.parametrize("raw,declared,expected_text,expected_enc", [
    ("<p>café</p>".encode("utf-8"), None, "café", "utf-8"),
    (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", None, "café", "utf-8"),
    (b"<meta charset='iso-8859-1'><p>caf\xe9</p>", None, "café", "iso-8859-1"),
    (b"<p>caf\xe9 \x93quoted\x94</p>", "windows-1252", "café “quoted”", "windows-1252"),
    ("<p>Привет</p>".encode("koi8-r"), "koi8-r", "Привет", "koi8-r"),
])
def test_encoding_detection(raw, declared, expected_text, expected_enc):
    text, enc = decode_html(raw, declared)
    assert expected_text in text and enc == expected_enc


def test_bad_input_is_kept_sanely_or_dropped_with_reason():
    stage = HtmlStage()
    cases = {
        "empty": "",
        "binary": "\x00\x01\x02\x03PNG\x00IHDR" * 50,
        "nested": "<div>" * 10_000 + "<p>deep</p>" + "</div>" * 10_000,
        "huge": "<html><body>" + "<p>A paragraph repeated to make a very large page.</p>" * 1_100_000,
    }
    res = stage.apply([Document(k, v) for k, v in cases.items()])
    reasons = {d.id: d.reason for d in res.dropped}
    assert reasons == {"empty": "html.empty", "binary": "html.binary", "nested": "html.too_deep",
                       "huge": "html.too_large"}
    assert res.stats.docs_in == 4 and res.stats.docs_out == 0


def test_unclosed_tags_and_wrong_encoding_keep_sane_text():
    stage = HtmlStage()
    unclosed = ("<html><body><div class='content'><h1>Notes<p>The beans have started to climb the poles "
                "this week.<p>Lettuce is next, in the row by the fence, sown on Saturday.")
    doc = stage.process(Document("u", unclosed))
    assert isinstance(doc, Document)
    assert doc.text == ("Notes\n\nThe beans have started to climb the poles this week.\n\nLettuce is next, "
                        "in the row by the fence, sown on Saturday.")
    # cp1252 bytes mislabelled as UTF-8 by the server: decoded without crashing, text kept
    text, enc = decode_html("<main><p>Se\xf1or Mu\xf1oz went to the caf\xe9 on Tuesday morning.</p></main>"
                            .encode("cp1252"), "utf-8")
    doc = stage.process(Document("w", text, meta={"encoding": enc}))
    assert isinstance(doc, Document) and "went to the caf" in doc.text


def test_deep_but_allowed_nesting_and_bs4_recursion_guard():
    page = "<div>" * 200 + "<main><p>" + "Text in a deep page that is still fine to read. " * 3 + "</p></main>" + "</div>" * 200
    assert isinstance(HtmlStage().process(Document("ok", page)), Document)
    drop = HtmlStage(Config(parser="bs4")).process(Document("deep", "<div>" * 5000 + "x"))
    assert isinstance(drop, Drop) and drop.reason == "too_deep"


def test_bad_config_values():
    with pytest.raises(ConfigError, match="html.parser = 'fast'; available: auto, lxml, bs4"):
        Config(parser="fast")
    with pytest.raises(ConfigError, match="max_link_density = 1.5"):
        Config(max_link_density=1.5)
