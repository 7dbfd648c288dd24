"""Quality: Gopher quality and repetition, C4, FineWeb rules, language ID, fastText quality score.

The published rules with their published defaults (Gopher as in the MassiveText paper and
DataTrove; C4 as in the T5 paper's code; FineWeb's own), applied in FineWeb's order: language,
Gopher repetition, Gopher quality, C4, FineWeb. Measures live in quality_measures.py; this file
compares them with thresholds. Each rule set has a mode: `drop`, `tag` (keep; measures and the
reasons that would have fired go to `meta["quality"]`, so variants can be drawn by threshold
later) or `off`. The first failing check names the drop, e.g. `quality.gopher_alpha_words`.

Two defaults differ from C4's paper, as FineWeb's did: lines without terminal punctuation are
kept (`c4_terminal_punct = false`), and so are pages with a curly bracket
(`c4_curly_bracket = false`): on documentation and code-bearing web text C4's bracket rule
removes most pages, measured on the default corpus (see README).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.stage import Stage
from pipeline.stages.quality_measures import Features, c4_lines, fineweb, gopher_quality, gopher_repetition

MODES = ("drop", "tag", "off")


@dataclass(frozen=True)
class Config:
    word_split: str = field(default="spacy", metadata={
        "help": "spacy: punctuation marks are words (DataTrove); whitespace: the Gopher paper's words"})
    # Gopher quality (MassiveText paper, Table A1 / DataTrove defaults)
    gopher_quality: str = field(default="drop", metadata={"help": f"mode: {MODES}"})
    min_words: int = field(default=50, metadata={"help": "non-symbol words, at least"})
    max_words: int = field(default=100_000, metadata={"help": "non-symbol words, at most"})
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = field(default=0.1, metadata={"help": "'#' or ellipses per word"})
    max_bullet_lines: float = field(default=0.9, metadata={"help": "share of lines starting with a bullet"})
    max_ellipsis_lines: float = field(default=0.3, metadata={"help": "share of lines ending with an ellipsis"})
    min_alpha_words: float = field(default=0.8, metadata={"help": "share of words with a letter"})
    min_stop_words: int = field(default=2, metadata={"help": "distinct of: the be to of and that have with"})
    # Gopher repetition
    gopher_repetition: str = field(default="drop", metadata={"help": f"mode: {MODES}"})
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_ngram_char_frac: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    dup_ngram_char_frac: dict[int, float] = field(default_factory=lambda: {
        5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})
    # C4
    c4: str = field(default="drop", metadata={"help": f"mode: {MODES}; drop also removes lines"})
    c4_terminal_punct: bool = field(default=False, metadata={"help": "keep only lines ending in . ? ! \" ' (C4: true, "
                                                                     "FineWeb: false)"})
    c4_min_words_per_line: int = 3
    c4_min_sentences: int = 5
    c4_max_word_length: int = 1000
    c4_remove_citations: bool = True
    c4_javascript: bool = field(default=True, metadata={"help": "remove lines mentioning javascript"})
    c4_policy: bool = field(default=True, metadata={"help": "remove cookie/terms/privacy lines"})
    c4_lorem_ipsum: bool = field(default=True, metadata={"help": "drop pages with lorem ipsum"})
    c4_curly_bracket: bool = field(default=False, metadata={"help": "drop pages with '{' (C4: true)"})
    # FineWeb
    fineweb: str = field(default="drop", metadata={"help": f"mode: {MODES}"})
    min_line_punct_ratio: float = 0.12
    max_short_line_ratio: float = 0.67
    short_line_length: int = 30
    max_dup_line_char_ratio: float = 0.01
    max_newline_word_ratio: float = 0.3
    # language
    language: str = field(default="drop", metadata={"help": f"mode: {MODES}"})
    languages: tuple[str, ...] = field(default=("en",), metadata={"help": "ISO 639-1 codes to keep"})
    min_language_score: float = field(default=0.65, metadata={"help": "probability of the top language"})
    # fastText quality score (GPT-3 / DCLM style)
    classifier: str = field(default="off", metadata={"help": f"mode: {MODES}"})
    classifier_model: str = field(default="", metadata={"help": "model from train-classifier (pos = reference "
                                                                "quality)", "path": True})
    min_classifier_score: float = field(default=0.5, metadata={"help": "drop when P(reference) < this"})

    def __post_init__(self) -> None:
        for name in ("gopher_quality", "gopher_repetition", "c4", "fineweb", "language", "classifier"):
            if getattr(self, name) not in MODES:
                raise ConfigError(f"quality.{name} = {getattr(self, name)!r}; available: {', '.join(MODES)}")
        for name in ("max_symbol_word_ratio", "max_bullet_lines", "max_ellipsis_lines", "min_alpha_words",
                     "dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac",
                     "min_line_punct_ratio", "max_short_line_ratio", "max_dup_line_char_ratio",
                     "min_language_score", "min_classifier_score"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"quality.{name} = {v}: must be within [0, 1]")
        for d in (self.top_ngram_char_frac, self.dup_ngram_char_frac):
            for n, v in d.items():
                if n < 1 or not 0.0 <= v <= 1.0:
                    raise ConfigError(f"quality n-gram thresholds: n = {n} must be >= 1, value {v} within [0, 1]")
        if self.min_words > self.max_words or self.min_mean_word_length > self.max_mean_word_length:
            raise ConfigError("quality: a minimum exceeds its maximum")
        if self.classifier != "off" and not self.classifier_model:
            raise ConfigError("quality.classifier is on but quality.classifier_model is empty")
        if self.word_split not in ("spacy", "whitespace"):
            raise ConfigError(f"quality.word_split = {self.word_split!r}; available: spacy, whitespace")


def check_gopher_quality(f: Features, c: Config) -> tuple[str | None, dict]:
    m = gopher_quality(f)
    checks = [
        (m.n_words < c.min_words, "gopher_min_words"),
        (m.n_words > c.max_words, "gopher_max_words"),
        (m.mean_word_length < c.min_mean_word_length or m.mean_word_length > c.max_mean_word_length,
         "gopher_mean_word_length"),
        (m.hash_ratio > c.max_symbol_word_ratio, "gopher_hash_ratio"),
        (m.ellipsis_ratio > c.max_symbol_word_ratio, "gopher_ellipsis_ratio"),
        (m.bullet_lines > c.max_bullet_lines, "gopher_bullet_lines"),
        (m.ellipsis_lines > c.max_ellipsis_lines, "gopher_ellipsis_lines"),
        (m.alpha_words < c.min_alpha_words, "gopher_alpha_words"),
        (m.stop_words < c.min_stop_words, "gopher_stop_words"),
    ]
    return next((r for bad, r in checks if bad), None), m.__dict__


def check_gopher_repetition(f: Features, c: Config) -> tuple[str | None, dict]:
    m = gopher_repetition(f, tuple(c.top_ngram_char_frac), tuple(c.dup_ngram_char_frac))
    checks = [
        (m.dup_para_frac > c.dup_para_frac, "gopher_dup_para_frac"),
        (m.dup_para_char_frac > c.dup_para_char_frac, "gopher_dup_para_char_frac"),
        (m.dup_line_frac > c.dup_line_frac, "gopher_dup_line_frac"),
        (m.dup_line_char_frac > c.dup_line_char_frac, "gopher_dup_line_char_frac"),
    ] + [(m.top_ngram_char_frac[n] > t, f"gopher_top_{n}gram") for n, t in c.top_ngram_char_frac.items()] \
      + [(m.dup_ngram_char_frac[n] > t, f"gopher_dup_{n}gram") for n, t in c.dup_ngram_char_frac.items()]
    return next((r for bad, r in checks if bad), None), m.__dict__


def check_fineweb(f: Features, c: Config) -> tuple[str | None, dict]:
    m = fineweb(f, c.short_line_length)
    if m is None:
        return "fineweb_empty", {}
    checks = [
        (m.line_punct_ratio < c.min_line_punct_ratio, "fineweb_line_punct_ratio"),
        (m.short_line_ratio > c.max_short_line_ratio, "fineweb_short_line_ratio"),
        (m.dup_line_char_ratio > c.max_dup_line_char_ratio, "fineweb_char_dup_ratio"),
        (m.newline_word_ratio > c.max_newline_word_ratio, "fineweb_list_ratio"),
    ]
    return next((r for bad, r in checks if bad), None), m.__dict__


class QualityStage(Stage):
    """Gopher quality + repetition, C4, FineWeb rules, language ID and a fastText quality score."""

    name = "quality"
    Config = Config
    ground_truth_kinds = ("low_quality",)

    def setup(self) -> None:
        c: Config = self.config
        self.langid = None
        if c.language != "off":
            from pipeline.language import LanguageId
            self.langid = LanguageId.default()
            self.langid.classify("warm up")  # loads the compiled walk now: once, not per worker
        gopher_repetition(Features("warm up the compiled n-gram counts"), (2,), (5,))
        self.model = None
        if c.classifier != "off":
            from pipeline.classifier import load_model
            self.model = load_model(c.classifier_model)

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        scores = None
        if self.model is not None:
            from pipeline.classifier import score
            scores = score(self.model, [d.text for d in docs])
        return [self._one(doc, None if scores is None else scores[i]) for i, doc in enumerate(docs)]

    def _one(self, doc: Document, clf_score: float | None) -> Document | Drop:
        c: Config = self.config
        if not doc.text.strip():
            return Drop("empty")
        info: dict[str, Any] = {}
        flags: list[str] = []

        def decide(mode: str, reason: str | None) -> Drop | None:
            if reason:
                flags.append(reason)
                if mode == "drop":
                    return Drop(reason)
            return None

        if self.langid is not None:
            lang, prob = self.langid.classify(doc.text)
            info["language"], info["language_score"] = lang, round(float(prob), 4)
            bad = lang not in c.languages or prob < c.min_language_score
            if (d := decide(c.language, "language" if bad else None)):
                return d
        if clf_score is not None:
            info["classifier_score"] = round(clf_score, 5)
            if (d := decide(c.classifier, "classifier" if clf_score < c.min_classifier_score else None)):
                return d
        f = Features(doc.text, c.word_split)
        for mode, check, key in ((c.gopher_repetition, check_gopher_repetition, "gopher_repetition"),
                                 (c.gopher_quality, check_gopher_quality, "gopher_quality")):
            if mode != "off":
                reason, measures = check(f, c)
                if mode == "tag":
                    info[key] = _rounded(measures)
                if (d := decide(mode, reason)):
                    return d
        if c.c4 != "off":
            r = c4_lines(doc.text, terminal_punct=c.c4_terminal_punct, min_words_per_line=c.c4_min_words_per_line,
                         max_word_length=c.c4_max_word_length, remove_citations=c.c4_remove_citations,
                         javascript=c.c4_javascript, policy=c.c4_policy, lorem_ipsum=c.c4_lorem_ipsum,
                         curly_bracket=c.c4_curly_bracket)
            reason = ("c4_lorem_ipsum" if r.lorem_ipsum else "c4_curly_bracket" if r.curly_bracket
                      else "c4_too_few_sentences" if r.sentences < c.c4_min_sentences else None)
            for k, n in r.lines_removed.items():
                self.count(f"c4_lines_removed.{k}", n)
            if (d := decide(c.c4, reason)):
                return d
            if c.c4 == "drop" and r.text != doc.text:
                doc.text = r.text
                f = Features(doc.text, c.word_split)
            info["c4_sentences"] = r.sentences
        if c.fineweb != "off":
            reason, measures = check_fineweb(f, c)
            if c.fineweb == "tag":
                info["fineweb"] = _rounded(measures)
            if (d := decide(c.fineweb, reason)):
                return d
        if flags:
            info["flags"] = flags
        doc.meta["quality"] = info
        return doc


def _rounded(d: dict) -> dict:
    return {k: ({kk: round(vv, 5) for kk, vv in v.items()} if isinstance(v, dict)
                else round(v, 5) if isinstance(v, float) else v) for k, v in d.items()}
