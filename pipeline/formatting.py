"""Numbers as the card and the stages' card sections write them: one definition each, below both."""
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
