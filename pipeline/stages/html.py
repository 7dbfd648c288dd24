"""HTML -> main text: one extraction algorithm over lxml trees, two ways to build the tree.

Why lxml first: libxml2 parses at ~90 MB/s, BeautifulSoup's own tree at ~7 MB/s; the lenient
bs4 route (`lxml.html.soupparser`) takes pages libxml2 rejects or mangles, and lxml takes pages
bs4 raises on, so only a page that neither parser reads is dropped as unparseable.

The extractor (jusText's block model, Readability's container choice, tuned and measured on real
pages with human ground truth: see `pipeline/devtools/extraction_eval.py` and `benchmarks/bench_html.py`):
1. drop non-content elements (scripts, styles, form controls, svg, comments; hidden elements
   are skipped by the walk in step 2);
2. cut the page into blocks with their measures (`html_blocks.segment`);
3. class each block good, bad or undecided from its own measures (`html_blocks.classify`);
4. choose the main container and drop what lies outside it (`html_main.main_container`); inside
   it, a block that only the stop-word test judged bad is undecided again
   (`html_main.confine_to_container`);
5. decide undecided blocks from their neighbours; keep the headline (`html_main.restore_title`);
   drop the page furniture that trails the text (`html_main.drop_trailing_furniture`);
6. join good blocks: paragraphs separated by blank lines, list items and table rows one a line,
   code with its line breaks; soft hyphens (U+00AD: invisible break points, which some sites put
   inside every long word) removed, and the text in Unicode's NFC form (canonically equal, one spelling:
   24 of trafilatura-eval-dev's 473 dev pages spell some letters decomposed, a base letter and a
   combining mark (23 pages) or Bengali's য়, and a search for the composed word, as its snippets
   and most text is written, missed them).

What counts as main text follows the ground truths we measure on: the headline, headings and
paragraphs of the article, lists and tables inside it; not comments, related links, newsletter
boxes, photo captions, galleries or site chrome.
"""
from __future__ import annotations

import re
import unicodedata

import lxml.etree as etree

from pipeline.document import Document, Drop
from pipeline.stage import Stage
from pipeline.stages.html_blocks import WS, TooDeep, classify, drop_captions, join_blocks, resolve_context, segment
from pipeline.stages.html_main import (
    confine_to_container,
    drop_trailing_furniture,
    explain_empty,
    main_container,
    restore_title,
    void_dominant_hints,
)
from pipeline.stages.html_settings import Config

# Plain lxml elements (no lxml.html element classes: their per-element lookup costs ~10%);
# comments and processing instructions are dropped while parsing; no table of ids is built
# (nothing looks an element up by id: 7 % of the parse). It reads UTF-8 bytes, whatever the page
# declares: the 1,090 test pages parse in 1.15 s so, encoding included, against 1.23 s as str,
# into the same trees; and a lone surrogate becomes U+FFFD where a str's parse ended at it.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, collect_ids=False,
                           encoding="utf-8")
# <head>'s metadata tags rather than <head> itself: bs4's html.parser leaves pages without a
# <body> and all their content under <head>.
REMOVE_TAGS = ("script", "style", "iframe", "svg", "canvas", "template",
               "object", "embed", "button", "select", "textarea", "input", "map", "math",
               "title", "meta", "link", "base")
# <noscript> is a fallback for browsers without scripts (tracking pixels, "enable JavaScript"),
# dropped with its content, unless its elements hold this many chars of text (its own text is
# often escaped markup, which does not count): libxml2 does not close
# `<noscript><div></noscript>` at its end tag, as browsers do, so the rest of the page lands
# inside it (trafilatura-eval-dev: a whole news page), and so does a no-script copy of the content.
NOSCRIPT_SWALLOWED = 500
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # C0 controls: not XML-legal
_CONTROL_BYTES = bytes(c for c in range(128) if _CONTROL.match(chr(c)))  # the same, as UTF-8 bytes


def parse(html: str, parser: str, data: bytes | None = None) -> tuple[etree._Element, str]:
    """Build the tree; returns (root, parser used). `data` is the page's UTF-8, where the caller
    has it already.

    `parser` names the first parser to try; whichever raises, the other gets the page, so only
    a page that neither can read raises ValueError. `auto` is lxml, handing the page to bs4
    when libxml2 returns a body with almost none of the page's text (and keeping lxml's tree
    if bs4 then fails). TooDeep is raised, not passed on: both parsers limit nesting.
    """
    if decl := _XML_DECL.match(html):  # not part of an HTML page: neither parser gets it
        html, data = html[decl.end():], None
    if parser == "bs4":
        try:
            return _parse_bs4(html), "bs4"
        except TooDeep:
            raise
        except Exception as e:  # bs4's tree builders raise several types on odd markup
            try:
                return _parse_lxml(html), "lxml"
            except ValueError as lxml_error:
                raise ValueError(f"neither parser could read the page: bs4: {e}; {lxml_error}") from None
    try:
        root = _parse_lxml(html, data)
        swallowed = _swallowed_by_title(root)
        if swallowed:
            root = _parse_lxml(swallowed)
    except ValueError as e:
        lxml_error, root = str(e), None
    if root is not None and (parser == "lxml" or not _mangled(root, html)):
        return root, "lxml"
    try:
        return _parse_bs4(html), "bs4"
    except TooDeep:
        raise
    except Exception as e:
        if root is not None:
            return root, "lxml"
        raise ValueError(f"neither parser could read the page: {lxml_error}; bs4: {e}") from None


def _parse_lxml(html: str, data: bytes | None = None) -> etree._Element:
    """libxml2's tree of the page (`data`: its UTF-8, if already made); ValueError when it finds
    no document."""
    try:
        root = etree.fromstring(html.encode("utf-8", "surrogatepass") if data is None else data, _PARSER)
    except (etree.ParserError, ValueError) as e:
        raise ValueError(f"lxml: {e}") from None
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in _PARSER.error_log):
        raise TooDeep("libxml2's depth limit (256)")  # the tree it returns is cut off
    if root is None:
        raise ValueError("lxml: found no document")
    return root


def _parse_bs4(html: str) -> etree._Element:
    """bs4's lenient tree, converted to lxml. Processing instructions, declarations and doctypes
    are dropped first: the converter raises on some of them (`<?xml ...>` inside HTML)."""
    from bs4 import BeautifulSoup, Declaration, Doctype, ProcessingInstruction
    from lxml.html import soupparser

    # the converter refuses C0 control characters, which real pages do carry
    soup = BeautifulSoup(_CONTROL.sub("", html), "html.parser")
    for node in soup.find_all(string=lambda s: isinstance(s, (ProcessingInstruction, Declaration, Doctype))):
        node.extract()
    try:
        tops = soupparser.convert_tree(soup)
    except RecursionError:  # soupparser converts the tree recursively
        raise TooDeep("too deep for the bs4 tree converter") from None
    tops = [t for t in tops if isinstance(t.tag, str)]
    if len(tops) == 1 and tops[0].tag == "html":
        return tops[0]
    root = etree.Element("html")
    root.extend(tops)
    return root


def _swallowed_by_title(root: etree._Element, min_chars: int = 1000) -> str:
    """The markup an unclosed <title> swallowed ('' if none): title text is raw text up to
    </title>, so a spliced or cut <head> turns the rest of the page into the title, in browsers
    too. A title of `min_chars` or more holding tags is such a page; its text is the page."""
    title = root.find("head/title")
    if title is None or root.find("body") is not None:
        return ""
    text = title.text or ""
    return text if len(text) >= min_chars and "<" in text else ""


def _mangled(root: etree._Element, html: str) -> bool:
    """libxml2 sometimes returns a near-empty body (or none) for broken markup that has plenty
    of text; only the body's text counts, not what <head> holds."""
    if len(html) <= 2000:
        return False
    need, body = 0.01 * len(html), root.find("body")
    if body is not None:
        seen = 0
        for text in body.itertext():  # stops once there is enough text
            seen += len(text)
            if seen >= need:
                return False
    return "<p" in html[:200000].lower()


def _drop_keep_tail(el: etree._Element) -> None:
    """Remove an element and its children but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _control_share(data: bytes, sample: int = 65536) -> float:
    """Share of C0 control characters (not tab, CR, LF) in the first `sample` bytes of the page's
    UTF-8: binary files are full of them, while real pages may carry a few stray NULs. (Each
    control is one byte: deleted and counted at C speed.)"""
    head = data[:sample]
    return (len(head) - len(head.translate(None, _CONTROL_BYTES))) / len(head) if head else 0.0


def page_meta(root: etree._Element) -> tuple[dict, list[str]]:
    """Title, language, canonical URL and description for `meta`; the headline candidates
    (<title>, og:title) for `restore_title`."""
    meta: dict = {}
    titles = []
    title = root.find(".//title")
    if title is not None:
        title_text = WS.sub(" ", "".join(title.itertext())).strip()
        if title_text:
            meta["title"] = title_text
            titles.append(title_text)
    for m in root.iterfind(".//meta[@property]"):
        if m.get("property", "").lower() == "og:title" and m.get("content"):
            titles.append(m.get("content"))
            break
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if lang:
        meta["lang"] = lang.strip()
    for link in root.iterfind(".//link[@rel]"):
        if link.get("rel", "").lower() == "canonical" and link.get("href"):
            meta["canonical_url"] = link.get("href").strip()
            break
    for m in root.iterfind(".//meta[@name]"):
        if m.get("name", "").lower() == "description" and m.get("content"):
            meta["description"] = m.get("content").strip()
            break
    return meta, titles


def visible_body(root: etree._Element) -> etree._Element:
    """The <body> (or the root) with non-content elements removed (hidden ones: `segment`)."""
    body = root.find(".//body")
    if body is not None and body.getparent() is not root:
        root.append(body)  # bs4 nests <body> in an unclosed <head>
    kept = False
    for el in list(root.iter("noscript")):
        if sum(map(len, el.itertext())) - len(el.text or "") < NOSCRIPT_SWALLOWED:
            _drop_keep_tail(el)
        else:
            kept = True
    if kept:
        etree.strip_tags(root, "noscript")
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *REMOVE_TAGS,
                         with_tail=False)
    body = root.find("body")
    return body if body is not None else root


def extract(html: str, cfg: Config, data: bytes | None = None) -> tuple[str, dict]:
    """Main text and metadata of one page (`data`: its UTF-8, if already made); when the text is
    empty, meta["why_empty"] says why. Raises TooDeep or ValueError."""
    root, used = parse(html, cfg.parser, data)
    meta, titles = page_meta(root)
    meta["parser"] = used
    body = visible_body(root)
    blocks, spans, marked = segment(body, cfg.use_hints, cfg.max_depth)
    void_dominant_hints(blocks, spans)
    classify(blocks, cfg)
    inside = main_container(blocks, spans, marked if cfg.use_hints else [])
    in_container = confine_to_container(blocks, inside)
    drop_captions(body, blocks, spans)
    resolve_context(blocks, in_container)
    restore_title(blocks, titles)
    drop_trailing_furniture(blocks)
    text = join_blocks(blocks)
    if "\xad" in text:
        text = text.replace("\xad", "")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not text:
        meta["why_empty"] = explain_empty(blocks, cfg.max_link_density)
    return text, meta


class HtmlStage(Stage):
    """Strip HTML to main text; title, language, canonical URL and description into meta."""

    name = "html"
    packages = ("lxml", "beautifulsoup4")
    Config = Config

    def process(self, doc: Document) -> Document | Drop:
        cfg: Config = self.config
        # the page's UTF-8, made once: its size, the binary test and libxml2 read it (a page of
        # more chars than max_bytes is too large in any encoding: it is not encoded to tell)
        data = doc.text.encode("utf-8", "surrogatepass") if len(doc.text) <= cfg.max_bytes else None
        if data is None or len(data) > cfg.max_bytes:
            size = doc.nbytes if data is None else len(data)
            return Drop("too_large", f"{size} bytes > max_bytes {cfg.max_bytes}")
        if not doc.text or doc.text.isspace():  # `not text.strip()`, without copying the page
            return Drop("empty")
        controls = _control_share(data)
        if controls > 0.01:
            return Drop("binary", f"{controls:.1%} control characters in the first 64 KiB: not text")
        try:
            text, meta = extract(doc.text, cfg, data)
        except TooDeep as e:
            return Drop("too_deep", f"nesting deeper than max_depth {cfg.max_depth} ({e})")
        except (ValueError, etree.LxmlError) as e:
            return Drop("unparseable", str(e)[:200])
        if len(text) < cfg.min_chars:
            return Drop("no_main_text", meta.get("why_empty", f"{len(text)} chars < min_chars {cfg.min_chars}"))
        meta.pop("why_empty", None)
        doc.text = text
        doc.meta.update(meta)
        return doc
