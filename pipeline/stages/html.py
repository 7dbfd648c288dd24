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

import functools
import re
from dataclasses import dataclass, field

import lxml.etree as etree

from pipeline.document import Document, Drop
from pipeline.stage import ConfigError, Stage
from pipeline.stopwords import ALL_STOPWORDS

# Plain lxml elements (no lxml.html element classes: their per-element lookup costs ~10%);
# comments and processing instructions are dropped while parsing.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
REMOVE_TAGS = ("script", "style", "noscript", "iframe", "svg", "canvas", "template",
               "object", "embed", "button", "select", "textarea", "input", "head", "map", "math")
BLOCK_TAGS = frozenset("p h1 h2 h3 h4 h5 h6 li dt dd pre blockquote tr caption figcaption "
                       "div section article main aside nav header footer ul ol dl table "
                       "address details summary center body hr br".split())
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
BAD_TAGS = {"nav", "aside", "footer"}
GOOD_TAGS = {"main", "article"}
BAD_HINT = re.compile(
    r"nav|menu|footer|sidebar|side-bar|cookie|consent|banner|share|social|breadcrumb|comment|"
    r"related|widget|advert|\bads?\b|promo|subscribe|newsletter|login|signup|popup|modal|"
    r"skip|toolbar|masthead|pagination|pager|\btags?\b|byline-share|top-bar|topbar|disclaimer|"
    r"caption|gallery|slideshow|carousel",
    re.I)
# Boilerplate words that name what ground truths leave out (comments, related links, chrome);
# the other BAD_HINT words (share, subscribe, promo, modal...) also decorate article wrappers.
STRONG_BAD_HINT = re.compile(
    r"nav|menu|footer|sidebar|side-bar|comment|related|widget|breadcrumb|pagination|pager|"
    r"masthead|toolbar|top-?bar|cookie|consent|login|signup|skip|disclaimer|\btags?\b", re.I)
GOOD_HINT = re.compile(r"article|content|\bmain\b|\bpost\b|entry|story|body-?text|prose|"
                       r"markdown|\bdocs?-body|\bbody\b|\btext\b", re.I)
# Headings that end an article: what follows them in its container is comments or teasers.
END_HEADING = re.compile(
    r"^\W*(\d+\s+)?(comments?|responses?|replies|reader comments|discussion|leave a (comment|reply)|"
    r"post a comment|add (a|your) comment|join the (conversation|discussion)|"
    r"related( articles| stories| posts| content| links)?|more (from|on|stories|news)\b|"
    r"(you|we think you) (may|might) (also )?like|recommended|most (popular|read|viewed|e-?mailed)|"
    r"trending|popular (posts|stories)|read (more|next)|further reading|sponsored)\b", re.I)
HIDDEN_XPATH = etree.XPath(
    "//*[@hidden or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none') "
    "or contains(translate(@style, ' ', ''), 'visibility:hidden')]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))
_WS = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Config:
    parser: str = field(default="auto", metadata={
        "help": "parser tried first: lxml (fast), bs4 (lenient, via lxml.html.soupparser) or auto "
                "(lxml, bs4 when libxml2 loses the page's text); a parser that raises hands the page "
                "to the other"})
    max_bytes: int = field(default=5_000_000, metadata={
        "help": "pages larger than this (UTF-8 bytes) are dropped as too_large"})
    max_depth: int = field(default=400, metadata={
        "help": "pages nested deeper than this are dropped as too_deep"})
    length_low: int = field(default=70, metadata={"help": "chars: shorter blocks are decided by context"})
    length_high: int = field(default=200, metadata={"help": "chars: longer prose blocks are good"})
    stopwords_low: float = field(default=0.30, metadata={"help": "stop-word share below which a block is bad"})
    stopwords_high: float = field(default=0.32, metadata={"help": "stop-word share for a good block"})
    max_link_density: float = field(default=0.2, metadata={"help": "link-text share above which a block is bad"})
    max_link_density_in_container: float = field(default=0.5, metadata={
        "help": "link-text share up to which a prose block inside the main container is kept"})
    use_hints: bool = field(default=True, metadata={"help": "use class/id and semantic-tag hints"})
    min_chars: int = field(default=1, metadata={"help": "extracted texts shorter than this are dropped as empty"})

    def __post_init__(self) -> None:
        if self.parser not in ("auto", "lxml", "bs4"):
            raise ConfigError(f"html.parser = {self.parser!r}; available: auto, lxml, bs4")
        for name in ("stopwords_low", "stopwords_high", "max_link_density", "max_link_density_in_container"):
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
    owner: etree._Element | None = None  # innermost block-level element holding the text
    hinted_by: etree._Element | None = None  # the element whose class/id/tag set `hint`
    cls: str = ""      # good | bad | short | neargood


class TooDeep(Exception):
    """The page nests deeper than `max_depth`."""


@functools.lru_cache(maxsize=65536)
def _attr_hint(attrs: str) -> tuple[int, bool]:
    """(hint, strong boilerplate word) of a "class id" string. Cached: a page repeats a few
    hundred class strings over thousands of elements, and the regexes were the stage's cost."""
    bad = BAD_HINT.search(attrs) is not None
    if bad:
        return -1, STRONG_BAD_HINT.search(attrs) is not None
    return (1 if GOOD_HINT.search(attrs) else 0), False


def _hint(el: etree._Element) -> int:
    tag = el.tag
    if tag in BAD_TAGS:
        return -1
    if tag in GOOD_TAGS:
        return 1
    cls, id_ = el.get("class"), el.get("id")
    if not cls and not id_:
        return 0
    return _attr_hint(f"{cls or ''} {id_ or ''}")[0]


def _strong_bad(el: etree._Element) -> bool:
    return el.tag in BAD_TAGS or _attr_hint(f"{el.get('class') or ''} {el.get('id') or ''}")[1]


# block tag -> the kind of block it starts
BLOCK_KIND = {t: ("h" if t in HEADINGS else "li" if t in ("li", "dt", "dd") else "row" if t == "tr"
                  else "pre" if t == "pre" else "p") for t in BLOCK_TAGS}


def segment(root: etree._Element, use_hints: bool, max_depth: int
            ) -> tuple[list[Block], dict[etree._Element, tuple[int, int]]]:
    """Walk the tree once, cutting its text into blocks at block-level tags.

    The hot loop of the stage: one pass of `iterwalk` events with a stack of (hint, in link,
    in pre) frames; text goes to the current block, which is flushed at every block boundary.
    Returns the blocks and, for every element, the range [first, end) of the blocks
    inside it: in document order an element's blocks are contiguous, so a container's totals
    are two prefix-sum lookups.
    """
    blocks: list[Block] = []
    spans: dict[etree._Element, tuple[int, int]] = {}
    opened: dict[etree._Element, int] = {}
    owners: list[etree._Element] = [root]
    parts: list[str] = []
    link_chars = 0
    kind = "p"
    stack: list[tuple[int, bool, bool, etree._Element | None]] = [(0, False, False, None)]
    ws_sub = _WS.sub

    def flush(frame: tuple[int, bool, bool, etree._Element | None]) -> None:
        raw = "".join(parts)
        pre = frame[2]
        text = raw.strip("\n") if pre else ws_sub(" ", raw.replace("\n", " ")).strip()
        if text.strip():
            blocks.append(Block("pre" if pre else kind, text, link_chars, frame[0], owners[-1], frame[3]))

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if len(stack) > max_depth:
                raise TooDeep(len(stack))
            hint, in_link, in_pre, hinted_by = stack[-1]
            if use_hints:
                h = _hint(el)
                # a <header> inside an article is its title block, not site chrome
                if tag == "header" and hint <= 0:
                    h = -1
                if h:
                    hint, hinted_by = h, el
            bk = BLOCK_KIND.get(tag)
            if bk is not None:
                if parts:
                    flush(stack[-1])
                    parts.clear()
                    link_chars = 0
                kind = bk
                owners.append(el)
            elif (tag == "td" or tag == "th") and parts:
                parts.append(" | ")
            opened[el] = len(blocks)
            in_link = in_link or tag == "a"
            stack.append((hint, in_link, in_pre or tag == "pre", hinted_by))
            text = el.text
            if text:
                parts.append(text)
                if in_link:
                    link_chars += len(text.strip())
        else:
            if tag in BLOCK_KIND:
                if parts:
                    flush(stack[-1])
                    parts.clear()
                    link_chars = 0
                kind = "p"
                owners.pop()
            spans[el] = (opened.pop(el), len(blocks))
            stack.pop()
            tail = el.tail
            if tail and el is not root:
                parts.append(tail)
                if stack[-1][1]:
                    link_chars += len(tail.strip())
    if parts:
        flush(stack[0])
    spans[root] = (0, len(blocks))
    return blocks, spans


def void_dominant_hints(blocks: list[Block], spans: dict[etree._Element, tuple[int, int]],
                        share: float = 0.5, min_prose: int = 500) -> None:
    """A weak boilerplate class/id (share, subscribe, promo... not comment, related, nav) on an
    element that holds most of the page's prose, and several paragraphs of it, is a false alarm
    ("subscriber-premium" around a whole article, with each paragraph in a "subscriber-only"
    wrapper of its own): boilerplate is the minority of a page. Blocks whose hint comes from
    such an element, or from one inside it, are cleared. Strong words are never voided: a
    comment thread often holds more prose than the post. (`min_prose` keeps a short profile
    text from passing on a page whose post is a few short lines.)"""
    prose = [len(b.text) if len(b.text) >= 80 and b.link_chars < 0.3 * len(b.text) else 0 for b in blocks]
    total = sum(prose)
    if not total:
        return

    def dominant(el: etree._Element) -> bool:
        lo, hi = spans.get(el, (0, 0))
        inside = sum(prose[lo:hi])
        return inside >= min_prose and inside >= share * total

    voided: dict[etree._Element, bool] = {}

    def void(el: etree._Element) -> bool:
        """Whether el or an ancestor is a dominant weak-boilerplate element (memoised)."""
        chain = []
        a = el
        while a is not None and a not in voided:
            chain.append(a)
            a = a.getparent()
        result = voided.get(a, False) if a is not None else False
        for a in reversed(chain):
            result = result or (_hint(a) < 0 and not _strong_bad(a) and dominant(a))
            voided[a] = result
        return voided[el]

    for b in blocks:
        if b.hint < 0 and b.hinted_by is not None and void(b.hinted_by):
            b.hint = 0


def _stopword_share(text: str) -> float:
    words = _WORD.findall(text.lower())
    return sum(w in ALL_STOPWORDS for w in words) / len(words) if words else 0.0


def classify(blocks: list[Block], cfg: Config) -> None:
    """jusText-style context-free classes: good, bad, or undecided (short, neargood)."""
    for b in blocks:
        n = len(b.text)
        link_density = b.link_chars / n if n else 0.0
        if b.hint < 0:
            b.cls = "bad"
        elif link_density > cfg.max_link_density:
            # prose with many inline links: content only inside a main container
            linky = link_density <= cfg.max_link_density_in_container and n >= cfg.length_low
            b.cls = "linky" if linky else "bad"
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


def resolve_context(blocks: list[Block], in_container: bool) -> None:
    """Decide undecided blocks from their neighbours, as jusText does. Inside a chosen main
    container (`in_container`), medium-length prose is content without further evidence."""
    # A page of only medium-length prose has no "good" anchor: its best blocks are the content.
    if in_container or not any(b.cls == "good" for b in blocks):
        for b in blocks:
            if b.cls == "neargood":
                b.cls = "good"
    for b in blocks:
        if b.cls == "linky":
            b.cls = "good" if in_container else "bad"
    # neargood: good when a good block is the nearest decided neighbour on either side
    classes = [b.cls for b in blocks]
    before, after = _neighbours(classes, ("short", "neargood"))
    for i, b in enumerate(blocks):
        if b.cls == "neargood":
            b.cls = "good" if "good" in (before[i], after[i]) else "bad"
    classes = [b.cls for b in blocks]
    before, after = _neighbours(classes, ("short",))
    for i, b in enumerate(blocks):
        if b.cls == "short":
            if b.kind == "h":  # a heading belongs to what follows it
                b.cls = "good" if after[i] == "good" else "bad"
            else:
                b.cls = "good" if before[i] == "good" and after[i] == "good" else "bad"


def _neighbours(classes: list[str], skip: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """For each block, the class of the nearest block before/after it whose class is not in
    `skip` ("bad" at the page edges). Two linear passes: pages with 10^5 blocks stay fast."""
    before, after = [""] * len(classes), [""] * len(classes)
    last = "bad"
    for i, c in enumerate(classes):
        before[i] = last
        if c not in skip:
            last = c
    last = "bad"
    for i in range(len(classes) - 1, -1, -1):
        after[i] = last
        if classes[i] not in skip:
            last = classes[i]
    return before, after


def main_container(blocks: list[Block], spans: dict[etree._Element, tuple[int, int]],
                   climb_ratio: float = 3.0) -> list[bool]:
    """Which blocks lie in the page's main container (all True when none stands out).

    Needs the context-free classes of `classify`. Readability's idea first: every paragraph
    adds a score to the element holding it and half as much to that element's parent, so a body
    of many paragraphs under one element outscores teaser lists and comment threads, whose
    paragraphs each sit in a container of their own; a candidate's score is damped by its link
    density. Articles cut into chunks (one wrapper per few paragraphs, ads and images between)
    leave the best candidate holding one chunk, so it then climbs to its parent while what the
    parent adds is mostly prose (`climb_ratio` times more prose than other text, links and
    hinted boilerplate counting as other). Siblings scoring within a fifth of the best are
    taken with it, as Readability does.
    """
    n = len(blocks)
    chars, links, prose = [0] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    for i, b in enumerate(blocks):
        chars[i + 1] = chars[i] + len(b.text)
        links[i + 1] = links[i] + b.link_chars
        is_prose = b.cls in ("good", "neargood") and b.hint >= 0
        prose[i + 1] = prose[i] + (len(b.text) - b.link_chars if is_prose else 0)
    score: dict[etree._Element, float] = {}
    for b in blocks:
        n_chars = len(b.text)
        if (n_chars < 25 or b.hint < 0 or b.link_chars > 0.5 * n_chars or b.owner is None
                or b.kind not in ("p", "pre")):  # list items: rules, menus, teasers
            continue
        s = 1.0 + b.text.count(",") + min(n_chars / 100, 3.0)
        parent = b.owner.getparent()
        if parent is None:
            parent = b.owner
        score[parent] = score.get(parent, 0.0) + s
        grand = parent.getparent()
        if grand is not None:
            score[grand] = score.get(grand, 0.0) + s / 2

    def final(el: etree._Element) -> float:
        lo, hi = spans.get(el, (0, 0))
        total = chars[hi] - chars[lo]
        return score.get(el, 0.0) * (1 - (links[hi] - links[lo]) / total) if total else 0.0

    candidates = [el for el in score if el in spans]
    if not candidates:
        return [True] * n
    top = max(candidates, key=final)
    best = final(top)
    while (parent := top.getparent()) is not None and parent in spans:
        (lo, hi), (plo, phi) = spans[top], spans[parent]
        added = (chars[phi] - chars[plo]) - (chars[hi] - chars[lo])
        added_prose = (prose[phi] - prose[plo]) - (prose[hi] - prose[lo])
        if added and added_prose < climb_ratio * (added - added_prose):
            break
        top = parent
    mask = [False] * n
    parent = top.getparent()
    siblings = [top] if parent is None else [c for c in parent if c in spans]
    for el in siblings:
        if el is top or final(el) >= max(10.0, 0.2 * best):
            lo, hi = spans[el]
            mask[lo:hi] = [True] * (hi - lo)
    _cut_at_end_heading(blocks, mask, prose, spans)
    return mask


def _cut_at_end_heading(blocks: list[Block], mask: list[bool], prose: list[int],
                        spans: dict[etree._Element, tuple[int, int]], min_prose: int = 200) -> None:
    """Unmarked comment threads and teaser lists often share the article's own container,
    announced by a heading ("Comments", "Related stories", "You may also like"). After
    `min_prose` chars of the container's prose, such a heading ends the element holding it:
    the rest of an article's container when the thread follows the post, or only the box when
    a "Related" box sits inside the article."""
    seen = 0
    for i, b in enumerate(blocks):
        if not mask[i]:
            continue
        if b.kind == "h" and seen >= min_prose and len(b.text) < 80 and END_HEADING.match(b.text):
            holder = b.owner.getparent() if b.owner is not None else None
            end = spans[holder][1] if holder is not None and holder in spans else i + 1
            mask[i:end] = [False] * (end - i)
        seen += prose[i + 1] - prose[i]


def restore_title(blocks: list[Block], titles: list[str], window: int = 60) -> None:
    """Keep the page's headline when it sits outside the main container (a common layout: the
    <h1> above the article's own element). The headline is the short block whose words are
    almost all in the <title> or og:title and cover at least half of it; headings are preferred,
    then the one nearest before the first kept block; only blocks within `window` blocks of it
    are looked at. All three ground truths we measure on start with the headline."""
    wanted = [set(_WORD.findall(t.lower())) for t in titles if t]
    wanted = [w for w in wanted if len(w) >= 2]
    first_good = next((i for i, b in enumerate(blocks) if b.cls == "good"), len(blocks))
    best: tuple[float, int, int] | None = None
    if not wanted:
        return
    for i in range(max(0, first_good - window), min(len(blocks), first_good + window)):
        b = blocks[i]
        if len(b.text) > 300 or b.hint < 0 and b.kind != "h":
            continue
        words = set(_WORD.findall(b.text.lower()))
        if len(words) < 2:
            continue
        match = max(len(words & w) / len(words) if len(words & w) >= 0.5 * len(w) else 0.0 for w in wanted)
        if match < 0.8:
            continue
        key = (match + (0.1 if b.kind == "h" else 0.0), -abs(first_good - i), i)
        if best is None or key > best:
            best = key
    if best is not None and blocks[best[2]].cls != "good":
        blocks[best[2]].cls = "good"


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
    """Build the tree; returns (root, parser used).

    `parser` names the first parser to try; whichever raises, the other gets the page, so only
    a page that neither can read raises ValueError. `auto` is lxml, handing the page to bs4
    when libxml2 returns a body with almost none of the page's text (and keeping lxml's tree
    if bs4 then fails). TooDeep is raised, not passed on: both parsers limit nesting.
    """
    html = _XML_DECL.sub("", html, count=1)  # lxml refuses a str that declares an encoding
    if parser == "bs4":
        try:
            return _parse_bs4(html), "bs4"
        except TooDeep:
            raise
        except Exception as e:  # bs4's tree builders raise several types on odd markup
            return _parse_lxml(html, f"bs4: {e}"), "lxml"
    try:
        root = _parse_lxml(html, "")
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


def _parse_lxml(html: str, other_error: str) -> etree._Element:
    """libxml2's tree; ValueError (with `other_error` appended) when it finds no document."""
    try:
        root = etree.fromstring(html, _PARSER)
    except (etree.ParserError, ValueError) as e:
        raise ValueError(f"lxml: {e}" + (f"; {other_error}" if other_error else "")) from None
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in _PARSER.error_log):
        raise TooDeep("libxml2's depth limit (256)")  # the tree it returns is cut off
    if root is None:
        raise ValueError("lxml found no document" + (f"; {other_error}" if other_error else ""))
    return root


def _parse_bs4(html: str) -> etree._Element:
    """bs4's lenient tree, converted to lxml. Processing instructions, declarations and doctypes
    are dropped first: the converter raises on some of them (`<?xml ...>` inside HTML)."""
    from bs4 import BeautifulSoup, Declaration, Doctype, ProcessingInstruction
    from lxml.html import soupparser

    # the converter refuses C0 control characters, which real pages do carry
    soup = BeautifulSoup(html.translate(_CONTROL), "html.parser")
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


def _mangled(root: etree._Element, html: str) -> bool:
    """libxml2 sometimes returns a near-empty body for broken markup that has plenty of text
    (an unclosed <title> in a spliced <head> swallows the page: only the body counts)."""
    body = root.find("body")
    body_text = len(etree.tostring(body, method="text", encoding=str)) if body is not None else 0
    return len(html) > 2000 and body_text < 0.01 * len(html) and "<p" in html[:200000].lower()


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


def extract(html: str, cfg: Config) -> tuple[str, dict]:
    """Main text and metadata of one page. Raises TooDeep or ValueError."""
    root, used = parse(html, cfg.parser)
    meta: dict = {"parser": used}
    titles = []
    title = root.find(".//title")
    if title is not None:
        title_text = _WS.sub(" ", "".join(title.itertext())).strip()
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
    body = root.find(".//body")
    if body is not None and body.getparent() is not root:
        root.append(body)  # bs4 nests <body> in an unclosed <head>, which is stripped next
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *REMOVE_TAGS,
                         with_tail=False)
    for el in HIDDEN_XPATH(root):
        _drop_keep_tail(el)
    body = root.find("body")
    blocks, spans = segment(body if body is not None else root, cfg.use_hints, cfg.max_depth)
    void_dominant_hints(blocks, spans)
    classify(blocks, cfg)
    inside = main_container(blocks, spans)
    in_container = any(keep and b.cls in ("good", "neargood") for b, keep in zip(blocks, inside))
    if in_container:
        for b, keep in zip(blocks, inside):
            if not keep:
                b.cls = "bad"
    resolve_context(blocks, in_container)
    restore_title(blocks, titles)
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
