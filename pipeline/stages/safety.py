"""Safety: URL blocklists, bad-word rules, a trainable fastText classifier, PII masking.

Every filter measures first and decides second: the measures go to `meta["safety"]`, and each
filter's mode says what to do with them: `drop` (remove, with a rule-level reason), `tag` (keep,
scores in meta, so variants can be drawn later) or `off`.

Defaults follow RefinedWeb/FineWeb for URLs (banned words, soft-banned words >= 2, substrings,
domain lists) and use the ratio form of the bad-word rule. C4's "drop on any listed word" is one
setting away (`words_rule = "c4"`), but on documentation text it removes pages for matplotlib's
"butt" cap style or "xx" placeholders, so it is not the default.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import pyarrow as pa

from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.formatting import EXCERPT, excerpt
from pipeline.pii import PiiConfig, mask_pii
from pipeline.stage import Stage
from pipeline.wordlists import (
    WordMatcher,
    domain_in,
    normalize_host,
    read_list,
    resolve_lists,
    tokens,
    url_host,
    url_tokens,
)

MODES = ("drop", "tag", "off")


def _lists(help_text: str):
    return field(default=("default",), metadata={"help": help_text, "path": True})


@dataclass(frozen=True)
class Config:
    # A rule's switch is the rule's name and its thresholds read min_/max_, as in the quality stage
    # (its classifier: classifier, classifier_model, min_classifier_score).
    RENAMED: ClassVar[dict[str, str]] = {"url_mode": "url", "words_mode": "words", "classifier_mode": "classifier",
                                         "classifier_threshold": "max_classifier_score",
                                         "words_max_ratio": "max_words_ratio", "pii_mode": "pii"}

    url: str = field(default="drop", metadata={"help": f"URL filter: {MODES}"})
    domain_lists: tuple[str, ...] = _lists("domain blocklists (a domain blocks its subdomains)")
    url_banned_words: tuple[str, ...] = _lists("a URL token in these lists rejects the URL")
    url_soft_banned_words: tuple[str, ...] = _lists("URL tokens counted against url_soft_threshold")
    url_substrings: tuple[str, ...] = _lists("substrings matched anywhere in the URL")
    url_soft_threshold: int = field(default=2, metadata={"help": "soft-banned URL tokens that reject a URL"})
    words: str = field(default="drop", metadata={"help": f"bad-word rule: {MODES}"})
    words_rule: str = field(default="ratio", metadata={
        "help": "ratio: drop when listed words / words > max_words_ratio; c4: drop on any hit"})
    bad_words: tuple[str, ...] = _lists("bad-word lists (words and multi-word phrases)")
    max_words_ratio: float = field(default=0.01, metadata={"help": "ratio rule threshold"})
    c4_keep_fraction: float = field(default=0.0, metadata={
        "help": "c4 rule: keep this fraction of hit documents (chosen by a hash of the id)"})
    classifier: str = field(default="off", metadata={"help": f"fastText classifier: {MODES}"})
    classifier_model: str = field(default="", metadata={"help": "model from `corpusprep train-classifier` (pos = "
                                                                "unsafe)", "path": True})
    max_classifier_score: float = field(default=0.5, metadata={"help": "drop when P(unsafe) > this"})
    pii: str = field(default="mask", metadata={"help": "mask | tag | off"})
    pii_email: bool = field(default=True, metadata={"help": "find e-mail addresses"})
    pii_phone: bool = field(default=True, metadata={"help": "find phone numbers"})
    pii_ip: bool = field(default=True, metadata={"help": "find IP addresses"})
    pii_public_ips_only: bool = field(default=True, metadata={"help": "leave private/reserved IPs alone"})
    store_measures: bool = field(default=True, metadata={
        "help": "store every document's measures in measures.parquet (for inspect --what-if)"})

    def __post_init__(self) -> None:
        for name in ("url", "words", "classifier"):
            if getattr(self, name) not in MODES:
                raise ConfigError(f"safety.{name} = {getattr(self, name)!r}; available: {', '.join(MODES)}")
        if self.pii not in ("mask", "tag", "off"):
            raise ConfigError(f"safety.pii = {self.pii!r}; available: mask, tag, off")
        if self.words_rule not in ("ratio", "c4"):
            raise ConfigError(f"safety.words_rule = {self.words_rule!r}; available: ratio, c4")
        for name in ("max_words_ratio", "c4_keep_fraction", "max_classifier_score"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"safety.{name} = {v}: must be within [0, 1]")
        if self.url_soft_threshold < 1:
            raise ConfigError(f"safety.url_soft_threshold = {self.url_soft_threshold}: must be >= 1")
        if self.classifier != "off" and not self.classifier_model:
            raise ConfigError("safety.classifier is on but safety.classifier_model is empty")


URL_RULES = ("url_domain", "url_substring", "url_banned_word")  # in the order they are checked


def url_rule(m: dict[str, Any], soft_threshold: int) -> str | None:
    """The first URL rule the measures fail (RefinedWeb's order), or None."""
    rule = next((r for r in URL_RULES if m[r]), None)
    return rule or ("url_soft_banned" if m["url_soft"] >= soft_threshold else None)


def decide(cfg: "Config", m: dict[str, Any]) -> str | None:
    """A document's safety verdict from its measures: the URL rules, the bad-word rule, the
    classifier, the first in drop mode that fires (the stage and `inspect --what-if` share it)."""
    if cfg.url == "drop" and "url_soft" in m and (rule := url_rule(m, cfg.url_soft_threshold)):
        return rule
    if cfg.words == "drop" and "bad_words" in m:
        if cfg.words_rule == "c4":
            if m["bad_words"] > 0 and not _keep_fraction(m["id"], cfg.c4_keep_fraction):
                return "bad_words"
        elif (m["bad_words"] / m["words"] if m["words"] else 0.0) > cfg.max_words_ratio:
            return "bad_word_ratio"
    if cfg.classifier == "drop" and "classifier_score" in m and m["classifier_score"] > cfg.max_classifier_score:
        return "classifier"
    return None


def _keep_fraction(doc_id: str, fraction: float) -> bool:
    """Deterministic per-document coin: the same documents are kept on every run."""
    h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little")
    return h / 2**64 < fraction


class SafetyStage(Stage):
    """URL blocklists, bad words, fastText classifier and PII masking; each can drop or tag."""

    name = "safety"
    packages = ("fasttext-community",)
    Config = Config
    ground_truth_kinds = ("unsafe",)

    def list_files(self) -> dict[str, list[str]]:
        """The list files this configuration uses ("default" resolved), for the card."""
        cfg: Config = self.config
        kinds = {}
        if cfg.url != "off":
            kinds |= {"domains": cfg.domain_lists, "url_banned_words": cfg.url_banned_words,
                      "url_soft_banned_words": cfg.url_soft_banned_words,
                      "url_substrings": cfg.url_substrings}
        if cfg.words != "off":
            kinds["bad_words"] = cfg.bad_words
        return {k: [str(f) for f in resolve_lists(k, v)] for k, v in kinds.items()}

    def setup(self) -> None:
        """Load and check every list and the model: bad files fail here, before any data."""
        cfg: Config = self.config
        files = self.list_files()

        def load(kind: str) -> list[str]:
            return [e for f in files[kind] for e in read_list(Path(f), f"safety.{kind}")]

        if cfg.url != "off":
            self.domains = frozenset(normalize_host(d) for d in load("domains"))
            self.url_banned = frozenset(w.lower() for w in load("url_banned_words"))
            self.url_soft = frozenset(w.lower() for w in load("url_soft_banned_words"))
            subs = sorted({s.lower() for s in load("url_substrings")}, key=len, reverse=True)
            self.url_sub_rx = re.compile("|".join(map(re.escape, subs)))
        if cfg.words != "off":
            self.words = WordMatcher.build(load("bad_words"))
        self.model = None
        if cfg.classifier != "off":
            from pipeline.classifier import load_model
            self.model = load_model(cfg.classifier_model)
        self.pii = PiiConfig(cfg.pii_email, cfg.pii_phone, cfg.pii_ip, cfg.pii_public_ips_only)

    # -- measures, then decisions ----------------------------------------------------------
    def url_measures(self, url: str) -> dict[str, Any]:
        """Which URL lists the URL hits, and how many soft-banned tokens it has."""
        if not url:
            return {"url_domain": False, "url_substring": False, "url_banned_word": False, "url_soft": 0}
        host, low = url_host(url), url.lower()
        toks = url_tokens(low)
        return {"url_domain": bool(host and domain_in(host, self.domains)),
                "url_substring": bool(self.url_sub_rx.search(low)),
                "url_banned_word": not self.url_banned.isdisjoint(toks),
                "url_soft": sum(map(self.url_soft.__contains__, toks))}

    def url_verdict(self, url: str) -> str | None:
        """The first URL rule the URL fails, or None."""
        return url_rule(self.url_measures(url), self.config.url_soft_threshold)

    def measures_schema(self) -> pa.Schema | None:
        cfg: Config = self.config
        if not cfg.store_measures:
            return None
        cols = [("id", pa.string()), ("bytes", pa.int64())]
        if cfg.url != "off":
            cols += [(k, pa.bool_()) for k in URL_RULES] + [("url_soft", pa.int64())]
        if cfg.words != "off":
            cols += [("bad_words", pa.int64()), ("words", pa.int64())]
        if cfg.classifier != "off":
            cols.append(("classifier_score", pa.float64()))
        return pa.schema(cols)

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        cfg: Config = self.config
        scores = None
        if self.model is not None:
            from pipeline.classifier import score
            scores = score(self.model, [d.text for d in docs])
        out: list[Document | Drop] = []
        for i, doc in enumerate(docs):
            m: dict[str, Any] = {"id": doc.id}
            if cfg.url != "off":
                m.update(self.url_measures(doc.url))
            if cfg.words != "off":
                m["bad_words"], m["words"] = self.words.count(doc.text)
            if scores is not None:
                m["classifier_score"] = float(scores[i])
            self.record(m)
            verdict = decide(cfg, m)
            if verdict:
                out.append(Drop(verdict))
                continue
            doc.meta["safety"] = self._info(m)
            if cfg.pii != "off":
                masked, counts = mask_pii(doc.text, self.pii)
                for k, n in counts.items():
                    self.count(f"pii.{k}", n)
                if counts:
                    doc.meta["safety"]["pii"] = dict(counts)
                    if cfg.pii == "mask":
                        doc.text = masked
            out.append(doc)
        return out

    def _info(self, m: dict[str, Any]) -> dict[str, Any]:
        """meta["safety"] of a kept document: its measures, rounded."""
        info: dict[str, Any] = {}
        rule = url_rule(m, self.config.url_soft_threshold) if "url_soft" in m else None
        if rule:
            info["url_rule"] = rule
        if "bad_words" in m:
            info["bad_words"] = m["bad_words"]
            info["bad_word_ratio"] = round(m["bad_words"] / m["words"] if m["words"] else 0.0, 5)
        if "classifier_score" in m:
            info["classifier_score"] = round(m["classifier_score"], 5)
        return info

    def decidable_settings(self, config: Config) -> set[str]:
        """What `inspect --what-if` may change: the thresholds and modes of the filters it measured."""
        out = set()
        if config.url != "off":
            out |= {"url", "url_soft_threshold"}
        if config.words != "off":
            out |= {"words", "words_rule", "max_words_ratio", "c4_keep_fraction"}
        if config.classifier != "off":
            out |= {"classifier", "max_classifier_score"}
        return out

    def redecide(self, config: Any, measures: pa.Table) -> list[str | None]:
        return [decide(config, m) for m in measures.to_pylist()]

    def explain_drop(self, drop: dict[str, Any], measures: dict[str, Any] | None,
                     text_of: Callable[[str], str | None]) -> dict[str, Any]:
        """A bad-word drop: the listed words found, the ratio against its threshold, the text
        around the first of them; a URL drop: the URL."""
        reason, text = drop["reason"].split(".", 1)[1], drop["text"]
        if reason.startswith("url_"):
            return {"checks": [("url", drop["url"], reason, "")], "excerpt": drop["url"]}
        if reason not in ("bad_word_ratio", "bad_words") or not text:
            return super().explain_drop(drop, measures, text_of)
        if not hasattr(self, "words"):
            self.setup()
        hits, n = self.words.count(text)
        found = sorted(w.decode() for w in self.words.words.intersection(tokens(text)))
        m = re.search(r"\b(" + "|".join(map(re.escape, found)) + r")\b", text, re.I) if found else None
        ratio = hits / n if n else 0.0
        check = ("bad_word_ratio", ratio, ">", self.config.max_words_ratio) if reason == "bad_word_ratio" \
            else ("bad_words", hits, ">", 0)
        return {"checks": [check], "found": found[:20],
                "excerpt": excerpt(text, m.start(), m.end()) if m else excerpt(text, 0, 0, 2 * EXCERPT)}

    def summarize(self) -> dict:
        return {"lists": self.list_files()}

    @classmethod
    def card_section(cls, stats: dict) -> list[str]:
        lists = stats.get("lists")
        if not lists:
            return []
        return ["", "## Safety lists", ""] + [
            f"- {kind}: " + (", ".join(f"`{Path(f).parent.name}/{Path(f).name}`" for f in files) or "none")
            for kind, files in lists.items()]

    @classmethod
    def licence_note(cls, config: Any) -> str:
        return ("Safety lists: LDNOOBW (CC-BY-4.0), DataTrove URL lists (Apache-2.0), "
                "blocklistproject (Unlicense) from ../shared/data/wordlists when present.")
