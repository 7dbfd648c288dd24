"""HTML -> main text: one extraction algorithm over lxml trees, two ways to build the tree.

Why lxml first: `lxml.html` parses at ~90 MB/s, BeautifulSoup's own tree at ~7 MB/s; the
lenient bs4 route (`lxml.html.soupparser`) is kept for pages the fast parser rejects or mangles.

The extractor, in the spirit of jusText/boilerpipe:
1. drop non-content elements (scripts, styles, forms, svg, comments, hidden elements);
2. cut the page into blocks at block-level tags (paragraphs, headings, list items, table rows,
   pre/code), each with its text, link-text share, stop-word share and the nearest class/id or
   semantic-tag hint (nav/footer/aside/cookie/share... vs main/article/content);
3. classify blocks as good, bad or undecided from those measures, then decide undecided blocks
   (short ones, headings, code) from their neighbours, as jusText does;
4. join good blocks: paragraphs separated by blank lines, list items and table rows one a line,
   code with its line breaks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.etree as etree
import lxml.html

from pipeline.document import Document, Drop
from pipeline.stage import ConfigError, Stage
from pipeline.stopwords import ALL_STOPWORDS

REMOVE_TAGS = ("script", "style", "noscript", "iframe", "svg", "canvas", "form", "template",
               "object", "embed", "button", "select", "textarea", "input", "head", "map", "math")
BLOCK_TAGS = frozenset("p h1 h2 h3 h4 h5 h6 li dt dd pre blockquote tr caption figcaption "
                       "div section article main aside nav header footer ul ol dl table td th "
                       "address details summary center body hr br".split())
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
BAD_TAGS = {"nav", "aside", "footer"}
GOOD_TAGS = {"main", "article"}
BAD_HINT = re.compile(
    r"nav|menu|footer|sidebar|side-bar|cookie|consent|banner|share|social|breadcrumb|comment|"
    r"related|widget|advert|\bads?\b|promo|subscribe|newsletter|login|signup|popup|modal|"
    r"skip|toolbar|masthead|pagination|pager|\btags?\b|byline-share|top-bar|topbar|disclaimer",
    re.I)
GOOD_HINT = re.compile(r"article|content|\bmain\b|\bpost\b|entry|story|body-?text|prose|"
                       r"markdown|\bdocs?-body|\bbody\b|\btext\b", re.I)
HIDDEN_XPATH = etree.XPath(
    "//*[@hidden or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none') "
    "or contains(translate(@style, ' ', ''), 'visibility:hidden')]")
_WS = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Config:
    parser: str = field(default="auto", metadata={
        "help": "lxml (fast), bs4 (lenient, via lxml.html.soupparser) or auto (lxml, bs4 on failure)"})
    max_bytes: int = field(default=5_000_000, metadata={
        "help": "pages larger than this (UTF-8 bytes) are dropped as too_large"})
    max_depth: int = field(default=400, metadata={
        "help": "pages nested deeper than this are dropped as too_deep"})
    length_low: int = field(default=70, metadata={"help": "chars: shorter blocks are decided by context"})
    length_high: int = field(default=200, metadata={"help": "chars: longer prose blocks are good"})
    stopwords_low: float = field(default=0.30, metadata={"help": "stop-word share below which a block is bad"})
    stopwords_high: float = field(default=0.32, metadata={"help": "stop-word share for a good block"})
    max_link_density: float = field(default=0.2, metadata={"help": "link-text share above which a block is bad"})
    use_hints: bool = field(default=True, metadata={"help": "use class/id and semantic-tag hints"})
    min_chars: int = field(default=1, metadata={"help": "extracted texts shorter than this are dropped as empty"})

    def __post_init__(self) -> None:
        if self.parser not in ("auto", "lxml", "bs4"):
            raise ConfigError(f"html.parser = {self.parser!r}; available: auto, lxml, bs4")
        for name in ("stopwords_low", "stopwords_high", "max_link_density"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"html.{name} = {v}: must be within [0, 1]")
        if self.length_low > self.length_high:
            raise ConfigError("html.length_low must not exceed html.length_high")
        if self.max_bytes < 1 or self.max_depth < 1:
            raise ConfigError("html.max_bytes and html.max_depth must be >= 1")


@dataclass(slots=True)
class Block:
    kind: str          # p, h, li, row, pre
    text: str
    link_chars: int
    hint: int          # -1 boilerplate hint, +1 content hint, 0 none
    cls: str = ""      # good | bad | short | neargood


class TooDeep(Exception):
    pass


def _hint(el: etree._Element) -> int:
    tag = el.tag
    if tag in BAD_TAGS:
        return -1
    if tag in GOOD_TAGS:
        return 1
    attrs = f"{el.get('class', '')} {el.get('id', '')}"
    if len(attrs) > 1:
        if GOOD_HINT.search(attrs) and not BAD_HINT.search(attrs):
            return 1
        if BAD_HINT.search(attrs):
            return -1
    return 0


class _Segmenter:
    """Walks the tree once, cutting text into blocks at block-level tags."""

    def __init__(self, use_hints: bool, max_depth: int):
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.link_chars = 0
        self.kind = "p"
        self.use_hints = use_hints
        self.max_depth = max_depth

    def flush(self, hint: int, pre: bool) -> None:
        if self.parts:
            raw = "".join(self.parts)
            text = raw.strip("\n") if pre else _WS.sub(" ", raw.replace("\n", " ")).strip()
            if text.strip():
                self.blocks.append(Block("pre" if pre else self.kind, text, self.link_chars, hint))
        self.parts = []
        self.link_chars = 0

    def run(self, root: etree._Element) -> list[Block]:
        # Stack frames: (element, hint in force, inside <a>, inside <pre>)
        hints = [0]
        in_link = [False]
        in_pre = [False]
        depth = 0
        for event, el in etree.iterwalk(root, events=("start", "end")):
            tag = el.tag if isinstance(el.tag, str) else ""
            if event == "start":
                depth += 1
                if depth > self.max_depth:
                    raise TooDeep(depth)
                h = _hint(el) if self.use_hints else 0
                # a <header> inside an article is its title block, not site chrome
                if tag == "header" and self.use_hints and hints[-1] <= 0:
                    h = -1
                hint = h if h else hints[-1]
                if tag in BLOCK_TAGS:
                    self.flush(hints[-1], in_pre[-1])
                    self.kind = ("h" if tag in HEADINGS else "li" if tag in ("li", "dt", "dd")
                                 else "row" if tag == "tr" else "pre" if tag == "pre" else "p")
                elif tag in ("td", "th") and self.parts:
                    self.parts.append(" | ")
                hints.append(hint)
                in_link.append(in_link[-1] or tag == "a")
                in_pre.append(in_pre[-1] or tag == "pre")
                if el.text:
                    self.parts.append(el.text)
                    if in_link[-1]:
                        self.link_chars += len(el.text.strip())
            else:
                depth -= 1
                if tag in BLOCK_TAGS:
                    self.flush(hints[-1], in_pre[-1])
                    self.kind = "p"
                hints.pop()
                in_link.pop()
                in_pre.pop()
                if el.tail and el is not root:
                    self.parts.append(el.tail)
                    if in_link[-1]:
                        self.link_chars += len(el.tail.strip())
        self.flush(0, False)
        return self.blocks


def _stopword_share(text: str) -> float:
    words = _WORD.findall(text.lower())
    return sum(w in ALL_STOPWORDS for w in words) / len(words) if words else 0.0


def classify(blocks: list[Block], cfg: Config) -> None:
    """jusText-style: context-free classes first, then undecided blocks from their neighbours."""
    for b in blocks:
        n = len(b.text)
        link_density = b.link_chars / n if n else 0.0
        if b.hint < 0:
            b.cls = "bad"
        elif link_density > cfg.max_link_density:
            b.cls = "bad"
        elif b.hint > 0:
            b.cls = "good"  # inside main/article/content markup and not a link list
        elif b.kind in ("h", "pre", "row", "li") and n < cfg.length_high:
            b.cls = "short"  # decided by context
        elif b.kind == "pre":
            b.cls = "neargood"
        else:
            sw = _stopword_share(b.text)
            if n < cfg.length_low:
                b.cls = "short"
            elif sw >= cfg.stopwords_high:
                b.cls = "good" if n > cfg.length_high else "neargood"
            elif sw >= cfg.stopwords_low:
                b.cls = "neargood"
            else:
                b.cls = "bad"
    # neargood: good when a good block is the nearest decided neighbour on either side
    decided = [b.cls for b in blocks]

    def nearest(i: int, step: int, skip: tuple[str, ...]) -> str:
        j = i + step
        while 0 <= j < len(blocks):
            if decided[j] not in skip:
                return decided[j]
            j += step
        return "bad"

    for i, b in enumerate(blocks):
        if b.cls == "neargood":
            b.cls = "good" if "good" in (nearest(i, -1, ("short", "neargood")),
                                         nearest(i, 1, ("short", "neargood"))) else "bad"
    decided = [b.cls for b in blocks]
    for i, b in enumerate(blocks):
        if b.cls == "short":
            prev, nxt = nearest(i, -1, ("short",)), nearest(i, 1, ("short",))
            if b.kind == "h":  # a heading belongs to what follows it
                b.cls = "good" if nxt == "good" else "bad"
            else:
                b.cls = "good" if prev == "good" and nxt == "good" else "bad"


def join_blocks(blocks: list[Block]) -> str:
    """Paragraphs separated by blank lines; consecutive list items or table rows one a line."""
    out: list[str] = []
    prev_kind = ""
    for b in blocks:
        if b.cls != "good":
            prev_kind = ""
            continue
        if out and b.kind in ("li", "row") and b.kind == prev_kind:
            out[-1] += "\n" + b.text
        else:
            out.append(b.text)
        prev_kind = b.kind
    return "\n\n".join(out)


def parse(html: str, parser: str) -> tuple[etree._Element, str]:
    """Build the tree; returns (root, parser used). Raises ValueError if nothing parses."""
    if parser in ("auto", "lxml"):
        try:
            root = lxml.html.document_fromstring(html)
            if parser == "lxml" or not _mangled(root, html):
                return root, "lxml"
        except (etree.ParserError, ValueError) as e:
            if parser == "lxml":
                raise ValueError(str(e)) from None
    from lxml.html import soupparser

    root = soupparser.fromstring(html)
    return root, "bs4"


def _mangled(root: etree._Element, html: str) -> bool:
    """libxml2 sometimes returns a near-empty tree for broken markup that has plenty of text."""
    body_text = len(root.text_content()) if root is not None else 0
    return len(html) > 2000 and body_text < 0.01 * len(html) and "<p" in html[:200000].lower()


def extract(html: str, cfg: Config) -> tuple[str, dict]:
    """Main text and metadata of one page. Raises TooDeep or ValueError."""
    root, used = parse(html, cfg.parser)
    meta: dict = {"parser": used}
    title = root.find(".//title")
    if title is not None and title.text_content().strip():
        meta["title"] = _WS.sub(" ", title.text_content()).strip()
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
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *REMOVE_TAGS,
                         with_tail=False)
    for el in HIDDEN_XPATH(root):
        if el.getparent() is not None:
            el.drop_tree()
    body = root.find("body")
    blocks = _Segmenter(cfg.use_hints, cfg.max_depth).run(body if body is not None else root)
    classify(blocks, cfg)
    return join_blocks(blocks), meta


class HtmlStage(Stage):
    """Strip HTML to main text; title, language, canonical URL and description into meta."""

    name = "html"
    Config = Config

    def process(self, doc: Document) -> Document | Drop:
        cfg: Config = self.config
        size = len(doc.text.encode("utf-8", "surrogatepass"))
        if size > cfg.max_bytes:
            return Drop("too_large", f"{size} bytes > max_bytes {cfg.max_bytes}")
        if not doc.text.strip():
            return Drop("empty")
        if "\x00" in doc.text[:1024] or doc.text.count("\x00") > 8:
            return Drop("binary", "NUL bytes: not text")
        try:
            text, meta = extract(doc.text, cfg)
        except TooDeep as e:
            return Drop("too_deep", f"nesting deeper than max_depth {cfg.max_depth} ({e})")
        except (ValueError, etree.LxmlError) as e:
            return Drop("unparseable", str(e)[:200])
        if len(text) < cfg.min_chars:
            return Drop("no_main_text")
        doc.text = text
        doc.meta.update(meta)
        return doc
