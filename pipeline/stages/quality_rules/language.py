"""Language identification (py3langid's model, compiled walk): keep the configured languages at a
minimum probability. The label and probability always go to meta["quality"]."""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.stages.quality_rules.family import Check, RuleFamily, mode_field, ratio


@dataclass(frozen=True)
class Settings:
    language: str = mode_field()
    languages: tuple[str, ...] = field(default=("en",), metadata={"help": "ISO 639-1 codes to keep"})
    min_language_score: float = ratio(0.65, "probability of the top language")


class LanguageRules(RuleFamily):
    name = "language"
    Settings = Settings

    def setup(self) -> None:
        from pipeline.language import LanguageId

        self.langid = LanguageId.default()
        self.langid.classify("warm up")  # loads the compiled walk now: once, not per worker

    def check(self, chk: Check, mode: str) -> str | None:
        lang, prob = self.langid.classify(chk.doc.text)
        chk.info["language"], chk.info["language_score"] = lang, round(float(prob), 4)
        c = self.config
        return "language" if lang not in c.languages or prob < c.min_language_score else None
