"""Locating data that ships with the package, and the shared test data beside the repository."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DATA = Path(__file__).parent / "data"


def shared_data_dir() -> Path | None:
    """`../shared/data` beside the checkout (or $CORPUSPREP_SHARED_DATA), if present.

    It holds real public benchmark sets and word lists; without it the built-in samples in
    pipeline/data are used, so everything still runs offline on a bare machine.
    """
    env = os.environ.get("CORPUSPREP_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "shared" / "data",
                   Path.cwd().resolve().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None
