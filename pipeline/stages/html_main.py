"""Which blocks are the page's main content: the container choice around the block classes.

jusText judges blocks one by one, so it keeps teaser paragraphs, comment threads and
"related" boxes that read like prose. These steps add the page's structure: boilerplate hints
that cover most of the prose are voided, the main container is chosen Readability-style and
grown over article chunks, a heading such as "Comments" ends it, and the headline is kept
when it sits outside it.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import lxml.etree as etree

from pipeline.stages.html_blocks import WORD, TextBlock, hint_of, is_strong_boilerplate

# Headings that end an article: what follows them in its container is comments or teasers.
# Comment words only in the plural or after a count ("response" heads a section of API docs),
# and no bare "discussion" (a paper's Discussion is content).
END_HEADING = re.compile(
    r"^\W*((\d+|one|no)\s+(comments?|responses?|replies|reply)|comments|responses|replies|"
    r"reader comments|leave a (comment|reply)|post a comment|add (a|your) comment|"
    r"join the (conversation|discussion)|"
    r"related( articles| stories| posts| content| links)?|more (from|on|stories|news)\b|"
    r"(you|we think you) (may|might) (also )?like|recommended|most (popular|read|viewed|e-?mailed)|"
    r"trending|popular (posts|stories)|read (more|next)|further reading|sponsored|"
    # the same in the other languages of trafilatura-eval-dev (German, Polish, Spanish,
    # Portuguese, French, Italian; its dev F1 0.9176 -> 0.9192, the English sets unchanged)
    r"(\d+\s+)?(kommentare?|komentarze?|comentarios?|commentaires?|commenti)|"
    r"mehr (zu|zum|von|aus)|(zum )?weiterlesen|lesen sie (auch|mehr)|weitere (artikel|beiträge|themen)|"
    r"verwandte|ähnliche (artikel|beiträge)|das könnte (sie|dich) auch interessieren|"
    r"(czytaj|zobacz) (też|także|również)|podobne|polecane|"
    r"(lea|leer|lee) también|noticias relacionadas|relacionad[oa]s|veja também|leia (também|mais)|"
    r"à lire aussi|(lire|voir) aussi|sur le même sujet|leggi anche|articoli correlati)\b", re.I)


def void_dominant_hints(blocks: list[TextBlock], spans: dict[etree._Element, tuple[int, int]],
                        share: float = 0.5, min_prose: int = 500) -> None:
    """A weak boilerplate class/id (share, subscribe, promo... not comment, related, nav) on an
    element that holds most of the page's prose, and several paragraphs of it, is a false alarm
    ("subscriber-premium" around a whole article, with each paragraph in a "subscriber-only"
    wrapper of its own): boilerplate is the minority of a page. Blocks whose hint comes from
    such an element, or from one inside it, are cleared. Strong words are never voided: a
    comment thread often holds more prose than the post. (`min_prose` keeps a short profile
    text from passing on a page whose post is a few short lines.)"""
    prose = [0] * (len(blocks) + 1)  # prefix sums of prose chars
    for i, b in enumerate(blocks):
        prose[i + 1] = prose[i] + (len(b.text) if len(b.text) >= 80 and b.link_chars < 0.3 * len(b.text) else 0)
    total = prose[-1]
    if not total:
        return

    def dominant(el: etree._Element) -> bool:
        lo, hi = spans.get(el, (0, 0))
        inside = prose[hi] - prose[lo]
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
            result = result or (dominant(a) and hint_of(a) < 0 and not is_strong_boilerplate(a))
            voided[a] = result
        return voided[el]

    for b in blocks:
        if b.hint < 0 and b.hinted_by is not None and void(b.hinted_by):
            b.hint = 0


def main_container(blocks: list[TextBlock], spans: dict[etree._Element, tuple[int, int]],
                   marked: Sequence[etree._Element] = (), min_marked_prose: int = 500,
                   climb_ratio: float = 3.0, climb_block_ratio: float = 1.5,
                   lead_min: int = 100, min_share: float = 0.2) -> list[bool]:
    """Which blocks lie in the page's main container (all True when none stands out).

    Needs the context-free classes of `classify`. Readability's idea first: every paragraph
    adds a score to the element holding it and half as much to that element's parent, so a body
    of many paragraphs under one element outscores teaser lists and comment threads, whose
    paragraphs each sit in a container of their own; a candidate's score is damped by its link
    density. Articles cut into chunks (one wrapper per few paragraphs, ads and images between)
    leave the best candidate holding one chunk, so it then climbs to its parent while what the
    parent adds is mostly prose: `climb_ratio` times more prose chars than other text (links and
    hinted boilerplate count as other), and `climb_block_ratio` times more prose blocks than
    other blocks, since a teaser list adds a linked headline for every paragraph; one that still
    holds under `min_share` of the page's prose is widened (`_widen`). Siblings whose own
    paragraphs score within a fifth of the best are taken with it, as Readability does
    (paragraphs one level down do not count there: that is a teaser box's shape), and chunks of
    the body (`_is_chunk_of`). An element the page marks as the article body (`marked`:
    schema.org's itemprop="articleBody") is taken instead of the best candidate when it holds
    at least `min_marked_prose` chars of prose (utomo dev: F1 0.951 -> 0.952, one page fewer
    below 0.5; dragnet and l3s unchanged). A wrapper
    before the container (`_take_leads`) with `lead_min` chars of prose, links under 30 % and no
    boilerplate hint of its own is the lead or intro (a "chapo" above the body; trafilatura-eval
    dev: F1 0.882 -> 0.898, pages below 0.5 46 -> 38; dragnet and l3s +0.001, utomo unchanged).
    """
    chars, links, prose, prose_blocks = _prefix_sums(blocks)
    score, direct = _paragraph_scores(blocks)

    def final(el: etree._Element, scores: dict[etree._Element, float] = score) -> float:
        lo, hi = spans.get(el, (0, 0))
        total = chars[hi] - chars[lo]
        return scores.get(el, 0.0) * (1 - (links[hi] - links[lo]) / total) if total else 0.0

    candidates = [el for el in score if el in spans]
    end = _last_footer_start(blocks, spans)
    if end is not None:  # main text does not start inside the page's footer or after it
        candidates = [el for el in candidates if spans[el][0] < end] or candidates
    if not candidates:
        return [True] * len(blocks)
    top = max(candidates, key=final)
    best = final(top)

    def prose_in(el: etree._Element) -> int:
        lo, hi = spans.get(el, (0, 0))
        return prose[hi] - prose[lo]
    if marked := [el for el in marked if prose_in(el) >= min_marked_prose]:
        top = max(marked, key=prose_in)
    top = _widen(_climb(top, spans, chars, prose, prose_blocks, climb_ratio, climb_block_ratio), spans, prose_in,
                 min_share * prose[-1])
    mask = [False] * len(blocks)
    parent = top.getparent()
    for el in [top] if parent is None else [c for c in parent if c in spans]:
        if (el is top or final(el, direct) >= max(10.0, 0.2 * best)
                or _is_chunk_of(el, top, prose_in(el), prose_in(top), spans, chars, links)):
            lo, hi = spans[el]
            mask[lo:hi] = [True] * (hi - lo)
    _take_leads(top, spans, mask, lambda el, lo, hi: _is_lead(el, lo, hi, prose_in(el), chars, links, lead_min))
    _cut_at_end_heading(blocks, mask, prose, spans)
    return mask


_FOOTER = re.compile(r"footer", re.I)


def confine_to_container(blocks: list[TextBlock], inside: list[bool]) -> bool:
    """Whether the main container (`inside`, where one stands out) holds content; if so, blocks
    outside it become bad. First each lowstop block (`classify`: bad by its stop-word share
    alone) is decided: inside the container it becomes neargood, left to its neighbours, since
    in a container chosen by the page's structure a race card, a list of names and figures, or
    prose in a language with a short stop list is content; elsewhere it is bad. One under a weak
    boilerplate word that `void_dominant_hints` cleared is bad anyway: a gallery's captions
    outweigh the story on some pages, and a caption is no less a caption there.
    (Dev F1: l3s-gn1 0.9438 -> 0.9606, pages below 0.5 5 -> 3; trafilatura-eval-dev 0.9305 ->
    0.9312, 12 -> 11; dragnet 0.9337 -> 0.9323, a copyright notice kept; utomo unchanged.
    Test, measured after: l3s 0.9397 -> 0.9523, dragnet 0.9143 -> 0.9189, trafilatura-eval-dev
    0.9170 -> 0.9185, pages below 0.5 down by one in each; utomo unchanged.)"""
    stands_out = not all(inside)
    for b, keep in zip(blocks, inside):
        if b.cls == "lowstop":
            b.cls = "neargood" if stands_out and keep and b.hinted_by is None else "bad"
    if not any(keep and b.cls in ("good", "neargood") for b, keep in zip(blocks, inside)):
        return False
    for b, keep in zip(blocks, inside):
        if not keep:
            b.cls = "bad"
    return True


def _last_footer_start(blocks: list[TextBlock], spans: dict[etree._Element, tuple[int, int]],
                       max_depth: int = 3) -> int | None:
    """Where the page's last footer starts (its first block); None where none is found. Main
    text does not start there or after it: a box of prose inside the footer, marked as content
    (oetker.de's service hotline text), outscored a short recipe. (Dev F1: trafilatura-eval-dev
    +0.0014, utomo +0.0035, dragnet +0.0010, l3s unchanged; four pages up, none down.) The
    footer is found two ways, and the later start counts: the element, a <footer> or one whose
    class or id says footer, that set the boilerplate hint of the last block so marked; and the
    page's own footer, one within `max_depth` levels of <body> that holds the latest block
    (boilerplate-hinted, by tag, class or id). The second is needed where a content hint
    inside the footer leaves no block hinted by it (vinosytapas.de: its one line in a
    "sap-content" wrapper), and a dialog after it at the end of <body> (shipping costs, shown by
    the site's script) outscored the page's description (trafilatura-eval dev: that page 0.00 ->
    0.80, no other dev or test page changed). It stops at that depth because a box's own
    footer ("hp-box-300-footer", deep in a sidebar) would cut off a story after it (an l3s dev
    page 1.00 -> 0.95)."""
    starts = [s for s in (_hinted_footer_start(blocks, spans), _page_footer_start(blocks, spans, max_depth))
              if s is not None]
    return max(starts) if starts else None


def _is_footer(el: etree._Element) -> bool:
    return el.tag == "footer" or bool(_FOOTER.search(f"{el.get('class')} {el.get('id')}"))


def _hinted_footer_start(blocks: list[TextBlock], spans: dict[etree._Element, tuple[int, int]]) -> int | None:
    seen: set[etree._Element] = set()
    for b in reversed(blocks):
        el = b.hinted_by
        if b.hint < 0 and el is not None and el not in seen:
            seen.add(el)
            if el in spans and _is_footer(el):
                return spans[el][0]
    return None


def _page_footer_start(blocks: list[TextBlock], spans: dict[etree._Element, tuple[int, int]],
                       max_depth: int) -> int | None:
    """The start of the footer, among the top `max_depth` levels under the walk's root (<body>),
    that holds the latest block (the inner one, where two end at it). Only those few elements are
    looked at: asking it of every block's ancestors cost 2 % of the stage's time."""
    if not blocks or blocks[-1].owner is None:
        return None
    root = blocks[-1].owner
    while (up := root.getparent()) is not None and up in spans:
        root = up
    level, best = [root], None
    for _ in range(max_depth):
        level = [c for el in level for c in el if c in spans]
        for el in level:
            if _is_footer(el) and hint_of(el) < 0 and (best is None or spans[el][::-1] > spans[best][::-1]):
                best = el
    return None if best is None else spans[best][0]


def _take_leads(top: etree._Element, spans: dict[etree._Element, tuple[int, int]], mask: list[bool], is_lead,
                levels: int = 3) -> None:
    """Leads before the container: among its preceding siblings, and those of its ancestors up to
    `levels` up (never beside <body>): an intro in a wrapper of its own above the body, or under
    the <article> while the body sits a few wrappers down (trafilatura-eval dev, siblings: 0.882
    -> 0.898; ancestors too: -> 0.907, pages below 0.5 46 -> 30; dragnet and l3s +0.001-0.002,
    utomo -0.001)."""
    up = top
    for _ in range(levels + 1):
        if up.tag == "body" or up.getparent() is None:
            return
        for el in up.getparent():
            if el is up:
                break
            if el in spans and is_lead(el, *spans[el]):
                lo, hi = spans[el]
                mask[lo:hi] = [True] * (hi - lo)
        up = up.getparent()


def _is_lead(el: etree._Element, lo: int, hi: int, prose: int, chars: list[int], links: list[int],
             min_prose: int) -> bool:
    """A lead or intro in a wrapper of its own: enough prose, few links, no boilerplate hint."""
    return prose >= min_prose and links[hi] - links[lo] < 0.3 * (chars[hi] - chars[lo]) and hint_of(el) >= 0


def _prefix_sums(blocks: list[TextBlock]) -> tuple[list[int], list[int], list[int], list[int]]:
    """Prefix sums over the blocks of chars, link chars, prose chars and prose blocks (prose: a
    good or near-good block not hinted as boilerplate; its link chars do not count)."""
    n = len(blocks)
    chars, links, prose = [0] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    prose_blocks = [0] * (n + 1)
    for i, b in enumerate(blocks):
        chars[i + 1] = chars[i] + len(b.text)
        links[i + 1] = links[i] + b.link_chars
        is_prose = b.cls in ("good", "neargood") and b.hint >= 0
        prose[i + 1] = prose[i] + (len(b.text) - b.link_chars if is_prose else 0)
        prose_blocks[i + 1] = prose_blocks[i] + is_prose
    return chars, links, prose, prose_blocks


def _paragraph_scores(blocks: list[TextBlock]) -> tuple[dict[etree._Element, float], dict[etree._Element, float]]:
    """Readability's scores: per element, the paragraphs it holds and half of those one level
    down; and the paragraphs it holds directly."""
    score: dict[etree._Element, float] = {}
    direct: dict[etree._Element, float] = {}
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
        direct[parent] = direct.get(parent, 0.0) + s
        grand = parent.getparent()
        if grand is not None:
            score[grand] = score.get(grand, 0.0) + s / 2
    return score, direct


def _is_chunk_of(el: etree._Element, top: etree._Element, el_prose: int, top_prose: int,
                 spans: dict[etree._Element, tuple[int, int]], chars: list[int], links: list[int],
                 min_share: float = 0.2, max_links: float = 0.3) -> bool:
    """A sibling of the container with its tag and class (not none), links under `max_links` of
    its text and prose at least `min_share` of the container's: the next chunk of a body that a
    page builder or a news site cuts into modules of one kind, each under wrappers of its own
    (smava.de's "content-module" rows, wired.com's body containers), which the climb will not
    leave when their parent also holds the page's chrome. Readability too favours siblings of
    the top candidate's class. (trafilatura-eval dev: F1 0.9312 -> 0.9318, 3 pages up, one
    down by a "Keep Reading" box of that class; the other sets unchanged. Test, measured after:
    trafilatura-eval-dev +0.0003, a page up; l3s -0.0002, a page down.)"""
    cls = top.get("class")
    if not cls or el.tag != top.tag or el.get("class") != cls or el_prose < min_share * top_prose:
        return False
    lo, hi = spans[el]
    return links[hi] - links[lo] < max_links * (chars[hi] - chars[lo])


def _climb(top: etree._Element, spans: dict[etree._Element, tuple[int, int]], chars: list[int], prose: list[int],
           prose_blocks: list[int], climb_ratio: float, climb_block_ratio: float) -> etree._Element:
    """Up from the best candidate while what the parent adds is mostly prose (see main_container)."""
    while (parent := top.getparent()) is not None and parent in spans:
        (lo, hi), (plo, phi) = spans[top], spans[parent]
        added = (chars[phi] - chars[plo]) - (chars[hi] - chars[lo])
        added_prose = (prose[phi] - prose[plo]) - (prose[hi] - prose[lo])
        added_blocks = (phi - plo) - (hi - lo)
        added_prose_blocks = (prose_blocks[phi] - prose_blocks[plo]) - (prose_blocks[hi] - prose_blocks[lo])
        if added and (added_prose < climb_ratio * (added - added_prose)
                      or added_prose_blocks < climb_block_ratio * (added_blocks - added_prose_blocks)):
            break
        top = parent
    return top


def _widen(top: etree._Element, spans: dict[etree._Element, tuple[int, int]],
           prose_in: Callable[[etree._Element], int], min_prose: float) -> etree._Element:
    """A container that holds less than `min_prose` (a share of the page's prose) is one chunk of
    a body whose chunks sit between linked names or images the climb will not cross (a gallery
    of projects, each with its linked maker): it becomes its nearest ancestor, short of <body>,
    that holds that much (dev F1: trafilatura-eval-dev 0.9234 -> 0.9259, pages below 0.5 17 ->
    14; utomo 0.9564 -> 0.9598, 2 -> 1; dragnet +0.0001; l3s unchanged)."""
    while prose_in(top) < min_prose and (up := top.getparent()) is not None and up in spans and up.tag != "body":
        top = up
    return top


def _cut_at_end_heading(blocks: list[TextBlock], mask: list[bool], prose: list[int],
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


def restore_title(blocks: list[TextBlock], titles: list[str], window: int = 60) -> None:
    """Keep the page's headline when it sits outside the main container (a common layout: the
    <h1> above the article's own element). The headline is the short block whose words are
    almost all in the <title> or og:title and cover at least half of it; headings are preferred,
    then the one nearest before the first kept block; only blocks within `window` blocks of it
    are looked at. All three ground truths we measure on start with the headline."""
    wanted = [set(WORD.findall(t.lower())) for t in titles if t]
    wanted = [w for w in wanted if len(w) >= 2]
    if not wanted:
        return
    any_title_word = set().union(*wanted)
    first_good = next((i for i, b in enumerate(blocks) if b.cls == "good"), len(blocks))
    best: tuple[float, int, int] | None = None
    for i in range(max(0, first_good - window), min(len(blocks), first_good + window)):
        b = blocks[i]
        if len(b.text) > 300 or b.hint < 0 and b.kind != "h":
            continue
        first = WORD.search(b.text)  # a headline starts with a title word: a cheap first test
        if first is None or first.group().lower() not in any_title_word:
            continue
        words = set(WORD.findall(b.text.lower()))
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


def drop_trailing_furniture(blocks: list[TextBlock], max_chars: int = 40, min_run: int = 3,
                            max_share: float = 0.15) -> None:
    """Page furniture inside an article's own markup after its text: a contact box, a rating,
    "share this article", a date stamp, credits. It is the kept text's trailing run of short
    blocks (paragraphs or headings under `max_chars`) that sit outside the element holding the
    text's last long block, when `min_run` or more and together under `max_share` of the kept
    text. Short lines beside the text's own paragraphs are left (an API page's "Returns" and
    "See Also" lines, the default corpus), and so are one or two lines (often a sign-off,
    "Thanks for listening.", which full-text ground truths keep). (Dev F1: trafilatura-eval-dev
    0.9259 -> 0.9289, pages below 0.5 14 -> 13, 7 pages up, none down; dragnet one page down, F1
    within 0.0001; l3s and utomo unchanged. The default corpus's article pages: bag-of-words F1
    0.99999 -> 0.99965 against its expected texts; without the element test 0.99908.)"""
    run: list[TextBlock] = []
    last = None
    for b in reversed(blocks):
        if b.cls != "good":
            continue
        if len(b.text) >= max_chars or b.kind not in ("p", "h"):
            last = b
            break
        run.append(b)
    if last is not None and last.owner is not None:
        text_holder = last.owner.getparent()
        run.reverse()
        inside = [i for i, b in enumerate(run) if b.owner is not None and b.owner.getparent() is text_holder]
        run = run[inside[-1] + 1:] if inside else run
    if len(run) >= min_run and sum(len(b.text) for b in run) <= max_share * sum(
            len(b.text) for b in blocks if b.cls == "good"):
        for b in run:
            b.cls = "bad"


def explain_empty(blocks: list[TextBlock], max_link_density: float) -> str:
    """Why a page gave no main text, for the drop's detail: where its visible text went."""
    if not blocks:
        return "no visible text outside scripts, styles, form controls and hidden elements"
    total = sum(len(b.text) for b in blocks)
    hinted = sum(len(b.text) for b in blocks if b.hint < 0)
    links = sum(len(b.text) for b in blocks if b.hint >= 0 and b.link_chars > max_link_density * len(b.text))
    longest = max((len(b.text) for b in blocks if b.hint >= 0), default=0)
    return (f"{len(blocks)} blocks, {total} chars of visible text: {hinted} in boilerplate-marked "
            f"elements (nav/aside/footer or class/id), {links} in link lists; longest other block "
            f"{longest} chars; none judged prose")
