"""Word and domain lists: loading (strictly), normalising, and matching at speed.

Lists are text files, one entry a line, `#` starts a comment. The special entry "default" names
the list this package uses by default: the public lists in ../shared/data/wordlists when they are
beside the checkout (LDNOOBW as C4 used it, DataTrove's URL lists, blocklistproject domains),
else the small built-in lists in pipeline/data/safety. The card records which files were used.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.resources import PACKAGE_DATA, shared_data_dir

DEFAULT_LISTS = {
    # kind: (files under shared/data/wordlists, built-in fallback)
    "bad_words": (["ldnoobw/en"], "bad_words.txt"),
    "domains": (["blocklistproject/scam-nl.txt", "blocklistproject/piracy-nl.txt",
                 "blocklistproject/crypto-nl.txt"], "blocked_domains.txt"),
    "url_banned_words": (["datatrove_url_filter/banned_words.txt"], "url_banned_words.txt"),
    "url_soft_banned_words": (["datatrove_url_filter/soft_banned_words.txt"], "url_soft_banned_words.txt"),
    "url_substrings": (["datatrove_url_filter/banned_subwords.txt"], "url_substrings.txt"),
}


def resolve_lists(kind: str, entries: tuple[str, ...]) -> list[Path]:
    """Expand "default" into concrete files; other entries are paths."""
    out: list[Path] = []
    for e in entries:
        if e == "default":
            shared = shared_data_dir()
            files, builtin = DEFAULT_LISTS[kind]
            if shared and all((shared / "wordlists" / f).is_file() for f in files):
                out += [shared / "wordlists" / f for f in files]
            else:
                out.append(PACKAGE_DATA / "safety" / builtin)
        else:
            out.append(Path(e))
    return out


def read_list(path: Path, what: str) -> list[str]:
    """Entries of one list file; a missing, empty or non-UTF-8 file is a ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{what}: list file {path} not found")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what}: list file {path} is not UTF-8 (byte {e.start}); "
                          "re-encode it as UTF-8") from None
    entries = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if not entries:
        raise ConfigError(f"{what}: list file {path} has no entries")
    return entries


# --- words in text ------------------------------------------------------------------------------
# Tokens are found on UTF-8 bytes: ASCII non-word bytes become spaces through a 256-entry
# bytes.translate table (several times faster than a regex or a str.translate dict), common
# Unicode punctuation is replaced first, and bytes >= 0x80 stay inside tokens, so letters of any
# script are part of words. Lowercasing is str.lower(), so it is Unicode-correct.
_SEP_B = bytes(b if (chr(b).isalnum() or b == 95) else 32 for b in range(128)) + bytes(range(128, 256))
_UNI_PUNCT = [c.encode() for c in "\u00a0\u2013\u2014\u2018\u2019\u201c\u201d\u00ab\u00bb\u2026\u00b7"
              "\u2022\u00a1\u00bf\u3000\u3001\u3002\u300c\u300d\uff0c\uff01\uff1f\u201e"]
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def tokens(text: str) -> list[bytes]:
    """Lowercased word tokens as UTF-8 bytes."""
    if text.isascii():
        b = text.encode().lower()
    else:
        b = text.lower().encode()
        for p in _UNI_PUNCT:
            if p in b:
                b = b.replace(p, b" ")
    return b.translate(_SEP_B).split()


@dataclass
class WordMatcher:
    """Whole-word, case-insensitive matching of words and multi-word phrases.

    Words: one set, looked up with a document's tokens by C-level set operations. Phrases: indexed
    by their longest (rarest) word and searched as " a  b " in the tokens joined by two spaces
    (so back-to-back occurrences are all counted) only when that word occurs. Entries in scripts
    written without spaces (CJK) are substrings of one compiled regex.
    """

    words: frozenset[bytes]
    phrases: dict[bytes, list[bytes]]
    unspaced: re.Pattern | None
    lookup: frozenset[bytes] = frozenset()  # words and phrase triggers: one hashing pass a document

    def __post_init__(self) -> None:
        self.lookup = self.words | frozenset(self.phrases)

    @classmethod
    def build(cls, entries: list[str]) -> "WordMatcher":
        words: set[bytes] = set()
        phrases: dict[bytes, list[bytes]] = {}
        unspaced = []
        for e in entries:
            toks = tokens(e)
            if not toks:
                continue
            if _CJK.search(e):
                unspaced.append(re.escape(e.lower()))
            elif len(toks) == 1:
                words.add(toks[0])
            else:
                phrases.setdefault(max(toks, key=len), []).append(b" " + b"  ".join(toks) + b" ")
        return cls(frozenset(words), phrases,
                   re.compile("|".join(sorted(unspaced, key=len, reverse=True))) if unspaced else None)

    def count(self, text: str) -> tuple[int, int]:
        """(matches, words) of a document."""
        toks = tokens(text)
        n = 0
        found = self.lookup.intersection(toks)
        if found:
            n = sum(toks.count(w) for w in found if w in self.words)
            triggers = [t for t in found if t in self.phrases]
            if triggers:
                joined = b" " + b"  ".join(toks) + b" "
                n += sum(joined.count(p) for t in triggers for p in self.phrases[t])
        if self.unspaced is not None and not text.isascii():
            n += len(self.unspaced.findall(text.lower()))
        return n, len(toks)


# --- URLs ---------------------------------------------------------------------------------------
def normalize_host(host: str) -> str:
    """Lowercase, IDNA (punycode), no port, no trailing dot, no leading `www.`."""
    host = host.strip().lower()
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    if host.startswith("[") or ":" in host:
        host = host.split("]")[0].lstrip("[") if host.startswith("[") else host.split(":")[0]
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host[4:] if host.startswith("www.") else host


def url_host(url: str) -> str:
    try:
        netloc = urlsplit(url if "//" in url else "//" + url).netloc
    except ValueError:
        return ""
    return normalize_host(netloc)


def domain_in(host: str, domains: frozenset[str]) -> str | None:
    """The blocked domain that `host` is or is a subdomain of, if any."""
    parts = host.split(".")
    for i in range(len(parts) - 1):
        cand = ".".join(parts[i:])
        if cand in domains:
            return cand
    return None


_URL_TOKEN = re.compile(r"[^a-z0-9]+")


def url_tokens(url: str) -> list[str]:
    return [t for t in _URL_TOKEN.split(url.lower()) if t]
