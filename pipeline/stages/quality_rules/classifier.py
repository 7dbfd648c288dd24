"""A fastText quality score (GPT-3 / DCLM style): P(reference quality) from a model trained with
`corpusprep train-classifier`; scored a batch at a time. The score always goes to meta["quality"]."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pyarrow as pa

from pipeline.errors import ConfigError
from pipeline.stages.quality_rules.family import Check, Rule, RuleFamily, mode_field, ratio


@dataclass(frozen=True)
class Settings:
    classifier: str = mode_field("off")
    classifier_model: str = field(default="", metadata={
        "help": "model from train-classifier (pos = reference quality)", "path": True})
    min_classifier_score: float = ratio(0.5, "drop when P(reference) < this")


class ClassifierRules(RuleFamily):
    name = "classifier"
    Settings = Settings
    columns = {"score": pa.float64()}

    @classmethod
    def validate(cls, c: Settings) -> None:
        if c.classifier != "off" and not c.classifier_model:
            raise ConfigError("quality.classifier is on but quality.classifier_model is empty")

    def setup(self) -> None:
        from pipeline.classifier import load_model

        self.model = load_model(self.config.classifier_model)

    def batch_scores(self, texts: list[str]) -> list[float]:
        from pipeline.classifier import score

        return list(score(self.model, texts))

    def measure(self, chk: Check) -> dict[str, Any]:
        return {"score": float(chk.score)}

    def rules(self) -> list[Rule]:
        return [Rule("classifier", "score", "<", "min_classifier_score")]

    def note(self, m: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"classifier_score": round(m["score"], 5)} if m else {}
