"""Quality: a table of rule families, run in FineWeb's order on every document.

The published rules with their published defaults, one family a module in quality_rules/:
language ID, a fastText quality score, Gopher repetition, Gopher quality (as in the MassiveText
paper and DataTrove), C4 (as in the T5 paper's code), FineWeb's own. Each family has a mode:
`drop`, `tag` (keep; measures and the reasons that would have fired go to `meta["quality"]`, so
variants can be drawn by threshold later) or `off`. The first failing check names the drop, e.g.
`quality.gopher_alpha_words`.

To add a family: write its module (settings, measures, check; see quality_rules/family.py) and
add it to `families` below, or to a subclass's `families` registered as a stage of its own.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, ClassVar

from pipeline.document import Document, Drop
from pipeline.errors import ConfigError
from pipeline.stage import Stage
from pipeline.stages.quality_measures import Features
from pipeline.stages.quality_rules.c4 import C4Rules
from pipeline.stages.quality_rules.classifier import ClassifierRules
from pipeline.stages.quality_rules.family import Check, RuleFamily, settings_class
from pipeline.stages.quality_rules.fineweb import FineWebRules
from pipeline.stages.quality_rules.gopher_quality import GopherQualityRules
from pipeline.stages.quality_rules.gopher_repetition import GopherRepetitionRules
from pipeline.stages.quality_rules.language import LanguageRules

FAMILIES: tuple[type[RuleFamily], ...] = (LanguageRules, ClassifierRules, GopherRepetitionRules,
                                          GopherQualityRules, C4Rules, FineWebRules)
WORD_SPLIT = ("word_split", str, field(default="spacy", metadata={
    "help": "spacy: punctuation marks are words (DataTrove); whitespace: the Gopher paper's words"}))


def _check_word_split(c: Any) -> None:
    if c.word_split not in ("spacy", "whitespace"):
        raise ConfigError(f"quality.word_split = {c.word_split!r}; available: spacy, whitespace")


def quality_config(families: tuple[type[RuleFamily], ...], module: str, qualname: str = "Config") -> type:
    """The Config of a quality stage running `families`: word_split, then each family's settings."""
    return settings_class(families, module, qualname, (WORD_SPLIT,), _check_word_split)


Config = quality_config(FAMILIES, __name__)


class QualityStage(Stage):
    """Gopher quality + repetition, C4, FineWeb rules, language ID and a fastText quality score."""

    name = "quality"
    packages = ("py3langid", "numba", "fasttext-community")
    families: ClassVar[tuple[type[RuleFamily], ...]] = FAMILIES
    Config = Config
    ground_truth_kinds = ("low_quality",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass with its own `families` table gets the Config for them."""
        super().__init_subclass__(**kwargs)
        if "families" in cls.__dict__ and "Config" not in cls.__dict__:
            cls.Config = quality_config(cls.families, cls.__module__, f"{cls.__qualname__}.Config")

    def setup(self) -> None:
        c = self.config
        self.active = [(fam(c), getattr(c, fam.name)) for fam in self.families if getattr(c, fam.name) != "off"]
        for fam, _ in self.active:
            fam.setup()

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        texts = [d.text for d in docs]
        scores = {fam.name: fam.batch_scores(texts) for fam, _ in self.active}
        return [self._one(doc, {k: v[i] for k, v in scores.items() if v is not None})
                for i, doc in enumerate(docs)]

    def _one(self, doc: Document, scores: dict[str, Any]) -> Document | Drop:
        if not doc.text.strip():
            return Drop("empty")
        chk = Check(doc, Features(doc.text, self.config.word_split), {}, self.count)
        flags: list[str] = []
        for fam, mode in self.active:
            chk.score = scores.get(fam.name)
            reason = fam.check(chk, mode)
            if reason:
                flags.append(reason)
                if mode == "drop":
                    return Drop(reason)
        if flags:
            chk.info["flags"] = flags
        doc.meta["quality"] = chk.info
        return doc
