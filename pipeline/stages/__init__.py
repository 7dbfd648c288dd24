"""The stage registry, written out: names users put in configs -> the class that runs them."""
from __future__ import annotations

from importlib import import_module

from pipeline.errors import ConfigError
from pipeline.stage import Stage

# name -> "module:Class"; imported on first use so `corpusprep --help` stays fast.
STAGES: dict[str, str] = {
    "html": "pipeline.stages.html:HtmlStage",
    "safety": "pipeline.stages.safety:SafetyStage",
    "quality": "pipeline.stages.quality:QualityStage",
    "dedup": "pipeline.stages.dedup:DedupStage",
    "decontam": "pipeline.stages.decontam:DecontamStage",
}


def get_stage(name: str) -> type[Stage]:
    if name not in STAGES:
        raise ConfigError(f"unknown stage {name!r}; available: {', '.join(STAGES)}")
    module, cls = STAGES[name].split(":")
    return getattr(import_module(module), cls)
