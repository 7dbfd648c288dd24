"""Numbers and excerpts as the card, the stages' card sections and `inspect` write them: one
definition each, below them all."""
from __future__ import annotations


def human_bytes(n: float) -> str:
    """1234567 -> '1.23 MB' (decimal units, as the card reports sizes)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return str(n)


def percent(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


EXCERPT = 300  # characters each side of what triggered a drop


def excerpt(text: str, start: int = 0, end: int | None = None, margin: int = EXCERPT) -> str:
    """Text around [start, end) with the span marked »like this«; ellipses where it was cut."""
    end = start if end is None else end
    lo, hi = max(0, start - margin), min(len(text), end + margin)
    mid = f"»{text[start:end]}«" if end > start else ""
    return ("…" if lo else "") + text[lo:start] + mid + text[end:hi] + ("…" if hi < len(text) else "")


def short_number(x: object) -> str:
    """A measure as inspect and the explorer print it: floats to 4 significant digits."""
    return f"{x:.4g}" if isinstance(x, float) else str(x)
