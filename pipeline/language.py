"""Language identification: py3langid's model and decisions, its byte walk compiled.

Why: py3langid walks its byte automaton in a Python loop, one step per byte of the document; on
web pages that loop was half of the quality stage's time. The walk here is the same automaton in
compiled code and hands py3langid's scorer the same features in the same order, so scores and
labels are the same to the last bit (tested against py3langid itself on real pages).
"""
from __future__ import annotations

import numba
import numpy as np
from py3langid.langid import MODEL_FILE, RAW_FLOOR, LanguageIdentifier


@numba.njit(cache=True, nogil=True)
def _visits(nextmove: np.ndarray, rowbase: np.ndarray, output: np.ndarray, text: np.ndarray,
            counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The features the automaton emits over `text` in order of first emission, and their counts
    (what py3langid's Counter holds, in its order). `counts` is a zeroed scratch array, one slot
    per feature, left zeroed again (zeroing all 100K slots per call cost more than the walk)."""
    order = np.empty(len(text), np.int64)
    k = 0
    state = 0
    for b in text:
        state = nextmove[rowbase[state] + b]
        f = output[state]
        if f >= 0:
            if counts[f] == 0:
                order[k] = f
                k += 1
            counts[f] += 1
    idx = order[:k].copy()
    found = counts[idx]
    counts[idx] = 0
    return idx, found


@numba.njit(cache=True, nogil=True)
def _rows_f32(table: np.ndarray, idx: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """table[idx] for a float16 table (viewed as uint16), converted to float32 through a lookup
    table: exact, and several times faster than numpy's float16 cast."""
    out = np.empty((len(idx), table.shape[1]), np.float32)
    for k in range(len(idx)):
        row = table[idx[k]]
        for c in range(table.shape[1]):
            out[k, c] = lut[row[c]]
    return out


# every float16 bit pattern as its float32 value
_F16_TO_F32 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


class LanguageId(LanguageIdentifier):
    """py3langid's identifier with the compiled walk; `classify(text) -> (label, probability)`."""

    __slots__ = ("_nm", "_rb", "_out", "_counts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        nm = self.tk_nextmove  # ~10 M entries: viewed, not copied
        self._nm = np.frombuffer(nm, dtype=np.dtype(nm.typecode)) if hasattr(nm, "typecode") else np.asarray(nm)
        self._rb = np.asarray(self._rowbase, dtype=np.int64)
        self._out = np.asarray(self.tk_output, dtype=np.int64)
        self._counts = np.zeros(int(self._out.max()) + 1, np.int64)  # scratch: one identifier per thread

    @classmethod
    def default(cls) -> "LanguageId":
        """The model py3langid ships (97 languages), probabilities normalised."""
        return cls.from_model_file(MODEL_FILE, norm_probs=True)

    def _raw_score(self, text: bytes) -> np.ndarray:
        idx, counts = _visits(self._nm, self._rb, self._out, np.frombuffer(text, np.uint8), self._counts)
        if len(idx):  # py3langid's _sparse_score: the same product on the same features, in order
            ptc = self.nb_ptc
            rows = (_rows_f32(ptc.view(np.uint16), idx, _F16_TO_F32) if ptc.dtype == np.float16
                    else ptc[idx])
            return np.log1p(counts.astype(np.float32)) @ rows + self.nb_pc
        return np.full(len(self.nb_classes), 0.0 if self._norm_probs else RAW_FLOOR, dtype=np.float32)
