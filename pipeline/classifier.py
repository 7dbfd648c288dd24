"""fastText classifiers trained locally: `corpusprep train-classifier` and scoring in stages.

Used by the safety stage (unsafe vs clean) and the quality stage (reference vs raw, as GPT-3 and
DCLM did). Nothing is downloaded: tests and the demo train their own small models.
"""
from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from pipeline import atomic, stage_folder
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


def texts_from_run(run: str | Path, reasons: tuple[str, ...] = (), stage: str = "") -> list[str]:
    """Documents of a finished run: those dropped for `reasons` (`stage.reason`, from the stages'
    drops, which keep their text by default), or else those `stage` kept (its last stage's by
    default: the run's cleanest documents)."""
    import pyarrow.parquet as pq

    run = Path(run)
    folders = stage_folder.stage_folders(run)
    if not folders:
        raise ConfigError(f"{run} holds no run (no NN_<stage> folders); give a run's output folder")
    if reasons:
        texts: list[str] = []
        for reason in reasons:
            folder = folders.get(reason.split(".")[0])
            if folder is None or not (folder / stage_folder.DROPS_FILE).exists():
                raise ConfigError(f"{run}: no stage {reason.split('.')[0]!r} for reason {reason!r}; stages: "
                                  f"{', '.join(folders)}")
            t = pq.read_table(folder / stage_folder.DROPS_FILE, columns=["reason", "text"])
            texts += [x for r, x in zip(t["reason"].to_pylist(), t["text"].to_pylist()) if r == reason and x]
        if not texts:
            raise ConfigError(f"{run}: no document with text was dropped for {', '.join(reasons)} (the card's "
                              "'Drops by reason' lists the reasons; run.keep_dropped_text keeps their text)")
        return texts
    name = stage or list(folders)[-1]
    if name not in folders:
        raise ConfigError(f"{run}: no stage {name!r}; stages: {', '.join(folders)}")
    parts = stage_folder.part_files(folders[name])
    if not parts:
        raise ConfigError(f"{run}: stage {name!r} wrote no kept documents (run.stage_outputs = needed writes only "
                          "the ones a run reads); take the last stage, or run with run.stage_outputs = all")
    return [t for p in parts for t in pq.read_table(p, columns=["text"])["text"].to_pylist()]


def train_classifier(pos: list[str], neg: list[str], out: str | Path, *, epoch: int = 10,
                     lr: float = 0.5, word_ngrams: int = 2, dim: int = 64, seed: int = 0,
                     max_chars: int = 20_000, bucket: int = 200_000, quantize: bool = True,
                     holdout: float = 0.1) -> dict:
    """Train `__label__pos` vs `__label__neg` on all but a seeded, stratified `holdout` share of
    each side, and measure the saved model on that share (accuracy, and recall and precision of
    the positives, which are usually the rare side). Quantized by default (fastText's product
    quantization of its 20,000 most weighty rows, retrained): on the default corpus's safety drops
    against its kept pages, 0.9 MB in 10 s with the same accuracy, where the plain model took 63 MB
    (524 MB with fastText's 2 M buckets)."""
    import fasttext

    rng = random.Random(seed)
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for label, texts in (("pos", pos), ("neg", neg)):
        rows = [(label, one_line(t[:max_chars])) for t in texts]
        rng.shuffle(rows)
        k = int(len(rows) * holdout)
        test += rows[:k]
        train += rows[k:]
    rng.shuffle(train)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_text("".join(f"__label__{label} {text}\n" for label, text in train), encoding="utf-8")
        model = fasttext.train_supervised(str(path), epoch=epoch, lr=lr, wordNgrams=word_ngrams, dim=dim, seed=seed,
                                          thread=1, verbose=0, minCount=1, bucket=bucket)
        if quantize:
            model.quantize(input=str(path), retrain=True, qnorm=True, cutoff=20_000, thread=1, verbose=0)
    with atomic.atomic_path(out) as tmp_out:
        model.save_model(str(tmp_out))
    return {"pos": len(pos), "neg": len(neg), "train_accuracy": _measured(model, train)["accuracy"],
            "heldout": _measured(model, test), "model": str(out), "bytes": Path(out).stat().st_size}


def _measured(model, rows: list[tuple[str, str]]) -> dict:
    """Accuracy, and the positives' recall and precision, on (label, text) rows (None: no rows)."""
    calls = [s >= 0.5 for s in score(model, [text for _, text in rows])] if rows else []
    truth = [label == "pos" for label, _ in rows]
    tp, pos, called = sum(a and b for a, b in zip(truth, calls)), sum(truth), sum(calls)
    return {"docs": len(rows), "pos": pos,
            "accuracy": round(sum(a == b for a, b in zip(truth, calls)) / len(rows), 4) if rows else None,
            "pos_recall": round(tp / pos, 4) if pos else None,
            "pos_precision": round(tp / called, 4) if called else None}


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
                          "model (.bin or quantized .ftz)?") from None
    if "__label__pos" not in model.labels:
        raise ConfigError(f"classifier model {path} has labels {model.labels}, expected __label__pos")
    return model


def score(model, texts: list[str], max_chars: int = 20_000) -> list[float]:
    """P(pos) for each text, in one batched call."""
    labels, probs = model.predict([one_line(t[:max_chars]) for t in texts], k=2)
    return [float(p[list(l).index("__label__pos")]) if "__label__pos" in l else 0.0
            for l, p in zip(labels, probs)]
