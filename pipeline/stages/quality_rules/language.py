"""Language identification (py3langid's model, compiled walk): keep the configured languages at a
minimum probability. The label and probability always go to meta["quality"]."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pyarrow as pa

from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio


@dataclass(frozen=True)
class Settings:
    language: str = mode_field()
    languages: tuple[str, ...] = field(default=("en",), metadata={"help": "ISO 639-1 codes to keep"})
    min_language_score: float = ratio(0.65, "probability of the top language")


class LanguageRules(RuleFamily):
    name = "language"
    Settings = Settings
    columns = {"label": pa.string(), "score": pa.float64()}

    def setup(self) -> None:
        from pipeline.language import LanguageId

        self.langid = LanguageId.default()
        self.langid.classify("warm up")  # loads the compiled walk now: once, not per worker

    def measure(self, chk: Check) -> dict[str, Any]:
        lang, prob = self.langid.classify(chk.text)
        return {"label": lang, "score": float(prob)}

    def rules(self) -> list[Rule]:
        return [Rule("language", "label", "not in", "languages"), Rule("language", "score", "<", "min_language_score")]

    def note(self, m: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"language": m["label"], "language_score": round(m["score"], 4)} if m else {}
