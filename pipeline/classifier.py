"""fastText classifiers trained locally: `corpusprep train-classifier` and scoring in stages.

Used by the safety stage (unsafe vs clean) and the quality stage (reference vs raw, as GPT-3 and
DCLM did). Nothing is downloaded: tests and the demo train their own small models.
"""
from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from pipeline import atomic
from pipeline.errors import ConfigError


def read_texts(path: str | Path, text_field: str = "text") -> list[str]:
    """Documents from JSONL (a text field a line) or a text file (a document a line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training file {path} not found")
    texts: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if path.suffix in (".jsonl", ".json"):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path} line {i}: invalid JSON ({e.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get(text_field), str):
                raise ConfigError(f"{path} line {i}: no string field {text_field!r}")
            texts.append(rec[text_field])
        else:
            texts.append(line)
    if not texts:
        raise ConfigError(f"training file {path} has no documents")
    return texts


def one_line(text: str) -> str:
    """fastText reads one example a line."""
    return " ".join(text.split())


def train_classifier(pos: list[str], neg: list[str], out: str | Path, *, epoch: int = 10,
                     lr: float = 0.5, word_ngrams: int = 2, dim: int = 64, seed: int = 0,
                     max_chars: int = 20_000) -> dict:
    """Train `__label__pos` vs `__label__neg`; returns training-set accuracy and counts."""
    import fasttext

    rows = [f"__label__pos {one_line(t[:max_chars])}" for t in pos] + \
           [f"__label__neg {one_line(t[:max_chars])}" for t in neg]
    random.Random(seed).shuffle(rows)
    with tempfile.TemporaryDirectory() as tmp:
        train = Path(tmp) / "train.txt"
        train.write_text("\n".join(rows) + "\n", encoding="utf-8")
        model = fasttext.train_supervised(str(train), epoch=epoch, lr=lr, wordNgrams=word_ngrams,
                                          dim=dim, seed=seed, thread=1, verbose=0, minCount=1)
    with atomic.atomic_path(out) as tmp_out:
        model.save_model(str(tmp_out))
    scores = score(model, pos + neg)
    acc = (sum(s >= 0.5 for s in scores[:len(pos)]) + sum(s < 0.5 for s in scores[len(pos):])) / len(scores)
    return {"pos": len(pos), "neg": len(neg), "train_accuracy": round(acc, 4), "model": str(out)}


def load_model(path: str | Path):
    """Load a model; a missing or corrupt file is a ConfigError at start-up."""
    import fasttext

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"classifier model {path} not found; train one with "
                          "`corpusprep train-classifier`")
    try:
        model = fasttext.load_model(str(path))
    except (ValueError, RuntimeError, MemoryError) as e:
        raise ConfigError(f"classifier model {path} cannot be loaded ({e}); is it a fastText "
                          ".bin model?") from None
    if "__label__pos" not in model.labels:
        raise ConfigError(f"classifier model {path} has labels {model.labels}, expected __label__pos")
    return model


def score(model, texts: list[str], max_chars: int = 20_000) -> list[float]:
    """P(pos) for each text, in one batched call."""
    labels, probs = model.predict([one_line(t[:max_chars]) for t in texts], k=2)
    return [float(p[list(l).index("__label__pos")]) if "__label__pos" in l else 0.0
            for l, p in zip(labels, probs)]
