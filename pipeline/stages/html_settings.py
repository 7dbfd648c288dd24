"""The html stage's settings, in a module of their own: the stage and both of its helper modules
(html_blocks, html_main) read them, and they import in one direction (settings <- blocks <- main
<- stage) only if the settings live below all three."""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class Config:
    parser: str = field(default="auto", metadata={
        "help": "parser tried first: lxml (fast), bs4 (lenient, via lxml.html.soupparser) or auto "
                "(lxml, bs4 when libxml2 loses the page's text); a parser that raises hands the page "
                "to the other"})
    max_bytes: int = field(default=5_000_000, metadata={
        "help": "pages larger than this (UTF-8 bytes) are dropped as too_large"})
    max_depth: int = field(default=400, metadata={
        "help": "pages nested deeper than this are dropped as too_deep"})
    length_low: int = field(default=70, metadata={"help": "chars: shorter blocks are decided by context"})
    length_high: int = field(default=200, metadata={"help": "chars: longer prose blocks are good"})
    stopwords_low: float = field(default=0.30, metadata={"help": "stop-word share below which a block is bad"})
    stopwords_high: float = field(default=0.32, metadata={"help": "stop-word share for a good block"})
    max_link_density: float = field(default=0.2, metadata={"help": "link-text share above which a block is bad"})
    max_link_density_in_container: float = field(default=0.5, metadata={
        "help": "link-text share up to which a prose block inside the main container is kept"})
    use_hints: bool = field(default=True, metadata={"help": "use class/id and semantic-tag hints"})
    min_chars: int = field(default=1, metadata={"help": "extracted texts shorter than this are dropped as empty"})

    def __post_init__(self) -> None:
        if self.parser not in ("auto", "lxml", "bs4"):
            raise ConfigError(f"html.parser = {self.parser!r}; available: auto, lxml, bs4")
        for name in ("stopwords_low", "stopwords_high", "max_link_density", "max_link_density_in_container"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"html.{name} = {v}: must be within [0, 1]")
        if self.length_low > self.length_high:
            raise ConfigError("html.length_low must not exceed html.length_high")
        if self.max_bytes < 1 or self.max_depth < 1:
            raise ConfigError("html.max_bytes and html.max_depth must be >= 1")
