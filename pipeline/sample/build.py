"""The built-in default corpus: real documentation pages plus planted problems with labels.

`build_sample(out, seed)` writes
    out/warc/part-0000N.warc.gz   web pages as HTTP response records (4 files, for parallelism)
    out/labels.jsonl              one line a document: id, kind, and what was planted
    out/expected.jsonl.gz         the main text each clean page should extract to
    out/manifest.json             seed, counts, text size, package versions, file sha256s
Everything derives from `seed`: the same seed on the same package versions gives identical files.

Label kinds: clean; exact_dup (of); near_dup (of, jaccard on word 5-gram shingles of the main
text); unsafe (rule: url_domain | url_word | bad_words); low_quality (subtype); leak (benchmark,
item, variant: verbatim | edited | split).
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pipeline import atomic
from pipeline.sample.articles import Article, ArticlePart, collect_articles, versions
from pipeline.sample.pages import SITES, article_url, render_blocks, render_page
from pipeline.text import normalize, sha256_file, word_ngrams

N_FILES = 4
DATE = "2024-05-01T12:00:00Z"
SHINGLE = 5
NEAR_DUP_TARGETS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


@dataclass
class Page:
    id: str
    url: str
    html: str
    label: dict[str, Any]
    expected: str = ""
    charset: str = "utf-8"
    after: str | None = None  # id this page must come after (a duplicate after its original)


def distinct_articles(arts: list[Article], max_jaccard: float = 0.5) -> list[Article]:
    """Leave out articles that nearly repeat an earlier one (docstrings copied between modules),
    so that the planted duplicates are the only duplicates the ground truth must account for."""
    from pipeline.stages.minhash import similar_pairs

    earlier: dict[int, list[int]] = {}
    for i, j in similar_pairs([main_text(a.title, a.blocks) for a in arts], threshold=max_jaccard):
        earlier.setdefault(i, []).append(j)
    drop: set[int] = set()
    for i in sorted(earlier):  # an article goes if it repeats one that stays
        if any(j not in drop for j in earlier[i]):
            drop.add(i)
    return [a for i, a in enumerate(arts) if i not in drop]


def main_text(title: str, blocks: tuple[ArticlePart, ...] | list[ArticlePart]) -> str:
    """The text a good extractor gets from an article page: title, then blocks."""
    parts = [title] + [b.text for b in blocks]
    return "\n\n".join(parts)


def shingles(text: str, n: int = SHINGLE) -> set[str]:
    return set(word_ngrams(normalize(text).split(), n))


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _edit_words(blocks: tuple[ArticlePart, ...], frac: float, rng: random.Random,
                vocab: list[str]) -> tuple[ArticlePart, ...]:
    out = []
    for b in blocks:
        if b.kind != "p":
            out.append(b)
            continue
        words = b.text.split()
        for i in range(len(words)):
            if rng.random() < frac:
                words[i] = rng.choice(vocab)
        out.append(ArticlePart("p", " ".join(words)))
    return tuple(out)


def near_duplicate(art: Article, target: float, rng: random.Random,
                   vocab: list[str]) -> tuple[tuple[ArticlePart, ...], float]:
    """Edit words until the shingle Jaccard with the original is close to `target`."""
    orig = main_text(art.title, art.blocks)
    lo, hi = 0.0, 1.0
    best: tuple[tuple[ArticlePart, ...], float] = (art.blocks, 1.0)
    for _ in range(14):
        frac = (lo + hi) / 2
        blocks = _edit_words(art.blocks, frac, random.Random(rng.random()), vocab)
        j = jaccard(orig, main_text(art.title, blocks))
        if abs(j - target) < abs(best[1] - target):
            best = (blocks, j)
        if j > target:
            lo = frac
        else:
            hi = frac
        if abs(j - target) < 0.01:
            break
    return best


# --- planted unsafe and low-quality text --------------------------------------------------------
SPAM_SENTENCES = [
    "Hot singles in your area are waiting for you tonight, click now and see {w} without limits.",
    "Unlimited {w} videos updated every hour, no sign-up needed and totally free for everyone.",
    "Get the best {w} deals online today and win a bonus on your very first deposit.",
    "Thousands of members share {w} pictures here, join the club and get instant access now.",
    "Our {w} collection is the largest on the web, bookmark this page and come back daily.",
]
BUILTIN_BAD_WORDS = ["porn", "xxx", "camgirls", "hardcore sex", "nude teens"]
BUILTIN_BAD_DOMAINS = ["free-casino-bonus.example", "cheap-pills-online.example",
                       "crypto-doubler.example", "warez-downloads.example"]


def _bad_lists() -> tuple[list[str], list[str]]:
    from pipeline.resources import shared_data_dir

    shared = shared_data_dir()
    words, domains = list(BUILTIN_BAD_WORDS), list(BUILTIN_BAD_DOMAINS)
    if shared and (shared / "wordlists").is_dir():
        w = shared / "wordlists"
        words = [l.strip() for l in (w / "ldnoobw" / "en").read_text("utf-8").splitlines()
                 if l.strip() and l.strip().isascii() and len(l.strip()) > 3]
        domains = [l.strip() for l in (w / "blocklistproject" / "scam-nl.txt").read_text("utf-8")
                   .splitlines() if l.strip() and not l.startswith("#")]
    return words, domains


def unsafe_page(i: int, rng: random.Random, words: list[str], domains: list[str]) -> tuple[str, str, dict]:
    rule = ("url_domain", "bad_words", "bad_words")[i % 3]
    picked = rng.sample(words, 4)
    sentences = [rng.choice(SPAM_SENTENCES).format(w=rng.choice(picked)) for _ in range(rng.randint(8, 14))]
    title = f"{picked[0].title()} — free {picked[1]} and more"
    if rule == "url_domain":
        domain = rng.choice(domains)
        sentences = [s.replace("{w}", "") for s in sentences]
        url = f"https://{rng.choice(['', 'www.', 'm.'])}{domain}/page/{i}"
        label = {"kind": "unsafe", "rule": rule, "domain": domain}
    else:
        url = f"https://media-hub{i % 17}.example.net/gallery/{i}"
        label = {"kind": "unsafe", "rule": rule, "words": picked}
    body = "\n".join(f"<p>{' '.join(sentences[k:k + 3])}</p>" for k in range(0, len(sentences), 3))
    return url, f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>", label


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
         "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
         "laboris nisi ut aliquip ex ea commodo consequat.")


def low_quality_page(i: int, rng: random.Random, arts: list[Article]) -> tuple[str, str, dict]:
    kind = ("link_list", "keyword_stuffing", "gibberish", "boilerplate", "lorem_ipsum")[i % 5]
    url = f"https://lowq{i % 11}.example.org/p/{i}"
    if kind == "link_list":
        names = [a.name for a in rng.sample(arts, 60)]
        body = "<ul>" + "".join(f'<li><a href="/x/{n}">{n}</a></li>' for n in names) + "</ul>"
    elif kind == "keyword_stuffing":
        kws = rng.sample(["python tutorial", "best numpy course", "cheap coding bootcamp",
                          "learn scipy fast", "free api docs", "top programming tips"], 3)
        body = "<p>" + " ".join(rng.choice(kws) for _ in range(rng.randint(120, 200))) + "</p>"
    elif kind == "gibberish":
        letters = "bcdfghjklmnpqrstvwxz"
        body = "<p>" + " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 14)))
                                for _ in range(rng.randint(150, 300))) + "</p>"
    elif kind == "boilerplate":
        body = ("<p>Home | Login | Register | Help</p><p>Page not found.</p><p>Please enable "
                "JavaScript.</p><p>Copyright 2020. All rights reserved.</p>")
    else:
        body = "".join(f"<p>{LOREM}</p>" for _ in range(rng.randint(4, 9)))
    # Inside <main>, so the HTML stage keeps the text and the quality stage must judge it.
    return url, f"<html><head><title>Page {i}</title></head><body><main>{body}</main></body></html>", \
        {"kind": "low_quality", "subtype": kind}


def _edit_leak(text: str, rng: random.Random) -> str:
    """A light edit: change one number or word every ~25 words, and the casing of one word."""
    words = text.split(" ")
    for k in range(rng.randrange(len(words)), len(words), 25):
        w = words[k]
        words[k] = str(int(w) + 1) if w.isdigit() else (w + "s" if w.isalpha() else w)
    j = rng.randrange(len(words))
    words[j] = words[j].upper()
    return " ".join(words)


def leak_blocks(item: str, variant: str, rng: random.Random) -> list[ArticlePart]:
    if variant == "verbatim":
        return [ArticlePart("pre" if "\n    " in item else "p", item)]
    if variant == "edited":
        return [ArticlePart("p", _edit_leak(item.replace("\n", " "), rng))]
    lines = [l for l in item.split("\n") if l.strip()]
    half = max(1, len(lines) // 2)
    return [ArticlePart("p", " ".join(lines[:half])), ArticlePart("ul", "\n".join(lines[half:]) or "-")]


# --- assembly ---------------------------------------------------------------------------------
def _uid(seed: int, i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"corpusprep-sample:{seed}:{i}"))


@functools.lru_cache(maxsize=1)
def _source_articles() -> tuple[Article, ...]:
    """The installed libraries' distinct articles. They do not depend on the seed, and collecting
    them is most of a build (two interpreters importing ~100 modules: ~9 s of each core), so a
    process that builds twice (another seed, a rebuild to compare) collects them once."""
    return tuple(distinct_articles(collect_articles()))


def build_pages(seed: int = 0, max_articles: int | None = None) -> tuple[list[Page], dict[str, Any]]:
    from pipeline.testsets import default_benchmarks, load_benchmark

    rng = random.Random(seed)
    arts = list(_source_articles()[:max_articles or None])
    rng.shuffle(arts)
    n = len(arts)
    # Reserve articles for leak carriers; the rest are clean originals.
    benches = [load_benchmark(s) for s in default_benchmarks()]
    n_leak = min(150, n // 15)
    leak_arts, clean_arts = arts[:n_leak], arts[n_leak:]
    vocab = sorted({w for a in clean_arts[:200] for b in a.blocks if b.kind == "p" for w in b.text.split()})
    pages: list[Page] = []
    counter = iter(range(10**9))

    def add(url: str, html: str, label: dict, expected: str = "", after: str | None = None,
            charset: str = "utf-8") -> Page:
        p = Page(_uid(seed, next(counter)), url, html, dict(label, id=None), expected, charset, after)
        p.label["id"] = p.id
        pages.append(p)
        return p

    def article_page(art: Article, blocks: tuple[ArticlePart, ...], site: dict, url: str,
                     label: dict, after: str | None = None) -> Page:
        prng = random.Random(rng.random())
        related = [a.name for a in prng.sample(clean_arts, 5)]
        html = render_page(art.title, render_blocks(blocks), url, site, prng, related)
        charset = "windows-1252" if prng.random() < 0.03 and html.isascii() is False else "utf-8"
        return add(url, html, label, main_text(art.title, blocks), after, charset)

    originals: list[tuple[Article, Page]] = []
    for art in clean_arts:
        site = SITES[rng.randrange(len(SITES))]
        originals.append((art, article_page(art, art.blocks, site, article_url(site, art),
                                            {"kind": "clean"})))
    _plant_duplicates(originals, rng, vocab, article_page)
    words, domains = _bad_lists()
    for i in range(max(30, n // 25)):
        url, html, label = unsafe_page(i, rng, words, domains)
        add(url, html, label)
    for i in range(max(30, n // 16)):
        url, html, label = low_quality_page(i, rng, clean_arts)
        add(url, html, label)
    _plant_leaks(leak_arts, benches, rng, article_page)
    _shuffle_originals_first(pages, rng)
    meta = {"seed": seed, "articles": n, "versions": versions(),
            "benchmarks": {b.name: len(b.items) for b in benches},
            "lists": "shared" if words is not BUILTIN_BAD_WORDS else "builtin"}
    return pages, meta


def _plant_duplicates(originals: list[tuple[Article, Page]], rng: random.Random, vocab: list[str],
                      article_page: Callable[..., Page]) -> None:
    """Exact duplicates (the same page at another URL: mirrors, tracking parameters) and near
    duplicates at known similarity on another site's chrome, each after its original."""
    for art, orig in rng.sample(originals, min(100, len(originals) // 20)):
        site = next(s for s in SITES if orig.url.startswith(f"https://{s['host']}"))
        article_page(art, art.blocks, site, orig.url + f"?utm_source=mirror{rng.randrange(99)}",
                     {"kind": "exact_dup", "of": orig.id, "jaccard": 1.0}, after=orig.id)
    per = max(1, min(16, len(originals) // 100))
    for target in NEAR_DUP_TARGETS:
        for art, orig in rng.sample(originals, per):
            blocks, j = near_duplicate(art, target, rng, vocab)
            site = SITES[rng.randrange(len(SITES))]
            article_page(art, blocks, site, f"https://{site['host']}/copy/{rng.randrange(10**6)}/{art.title}",
                         {"kind": "near_dup", "of": orig.id, "jaccard": round(j, 4),
                          "target": target}, after=orig.id)


def _plant_leaks(leak_arts: list[Article], benches: list[Any], rng: random.Random,
                 article_page: Callable[..., Page]) -> None:
    """Benchmark items inside articles: verbatim, edited, or split across blocks."""
    variants = ("verbatim", "edited", "split")
    for k, art in enumerate(leak_arts):
        bench = benches[k % len(benches)]
        idx = rng.randrange(len(bench.items))
        variant = variants[(k // len(benches)) % 3]
        blocks = list(art.blocks)
        pos = rng.randrange(1, len(blocks) + 1)
        blocks[pos:pos] = leak_blocks(bench.items[idx], variant, rng)
        site = SITES[rng.randrange(len(SITES))]
        article_page(art, tuple(blocks), site, article_url(site, art),
                     {"kind": "leak", "benchmark": bench.name, "item": idx, "variant": variant})


def _shuffle_originals_first(pages: list[Page], rng: random.Random) -> None:
    """Input order: a seeded shuffle, then every duplicate moved after its original."""
    rng.shuffle(pages)
    pos = {p.id: i for i, p in enumerate(pages)}
    for i, p in enumerate(pages):
        if p.after and pos[p.after] > pos[p.id]:
            j = pos[p.after]
            pages[i], pages[j] = pages[j], pages[i]
            pos[pages[i].id], pos[pages[j].id] = i, j


def _write_warc(path: Path, pages: list[Page]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for p in pages:
        body = p.html.encode(p.charset, errors="xmlcharrefreplace")
        http = StatusAndHeaders("200 OK", [("Content-Type", f"text/html; charset={p.charset}"),
                                           ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        rec = writer.create_warc_record(p.url, "response", payload=io.BytesIO(body),
                                        http_headers=http, warc_headers_dict={
                                            "WARC-Record-ID": f"<urn:uuid:{p.id}>", "WARC-Date": DATE})
        writer.write_record(rec)
    atomic.write_bytes(path, buf.getvalue())


# what a run's card says of this corpus (it reads the licence from the manifest beside its input)
LICENCE = ("the corpusprep default corpus - docstrings of the Python standard library (PSF licence), numpy, "
           "scipy, matplotlib, pyarrow (BSD-style/PSF-compatible licences), rendered as web pages, with planted "
           "test documents.")


def build_sample(out: str | Path, seed: int = 0, max_articles: int | None = None) -> dict[str, Any]:
    """Build the default corpus into `out`; returns its manifest."""
    out = Path(out)
    pages, meta = build_pages(seed, max_articles)
    per_file = -(-len(pages) // N_FILES)
    files = []
    for k in range(N_FILES):
        path = out / "warc" / f"part-{k:05d}.warc.gz"
        _write_warc(path, pages[k * per_file:(k + 1) * per_file])
        files.append(path)
    atomic.write_text(out / "labels.jsonl", "".join(json.dumps(p.label, sort_keys=True) + "\n" for p in pages))
    exp = "".join(json.dumps({"id": p.id, "text": p.expected}) + "\n" for p in pages if p.expected)
    atomic.write_bytes(out / "expected.jsonl.gz", gzip.compress(exp.encode(), mtime=0))
    kinds: dict[str, int] = {}
    for p in pages:
        kinds[p.label["kind"]] = kinds.get(p.label["kind"], 0) + 1
    manifest = dict(meta, documents=len(pages), kinds=kinds,
                    main_text_bytes=sum(len(p.expected.encode()) for p in pages),
                    files={str(f.relative_to(out)): sha256_file(f) for f in files}, licence=LICENCE)
    atomic.write_json(out / "manifest.json", manifest)
    return manifest


def load_labels(corpus_dir: str | Path) -> dict[str, dict[str, Any]]:
    with open(Path(corpus_dir) / "labels.jsonl", encoding="utf-8") as fh:
        return {r["id"]: r for r in map(json.loads, fh)}
