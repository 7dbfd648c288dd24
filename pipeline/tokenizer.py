"""The BPE tokenizer the shards are encoded with: trained locally on the cleanest variant (no
download), or loaded from a local tokenizer.json; each document is encoded and ended by EOS."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.errors import ConfigError
from pipeline.shard_format import EOS


def train_tokenizer(texts: Iterator[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def load_tokenizer(path: str | Path):
    from tokenizers import Tokenizer

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"tokenizer {path} not found")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - tokenizers raises plain Exceptions
        raise ConfigError(f"tokenizer {path} cannot be loaded ({e})") from None
    if tok.token_to_id(EOS) is None:
        raise ConfigError(f"tokenizer {path} has no {EOS} token")
    return tok


def encode(tok, texts: list[str], batch: int) -> list[np.ndarray]:
    eos = tok.token_to_id(EOS)
    out: list[np.ndarray] = []
    for i in range(0, len(texts), batch):
        for enc in tok.encode_batch_fast(texts[i:i + batch], add_special_tokens=False):
            ids = enc.ids
            arr = np.empty(len(ids) + 1, dtype=np.uint32)
            arr[:-1] = ids
            arr[-1] = eos
            out.append(arr)
    return out


# --- the whole step -----------------------------------------------------------------------------
