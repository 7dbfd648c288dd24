"""The report's MoE section on known rows: the dropped share is held against Switch's range."""
from __future__ import annotations

from training.report_moe import moe_section


def _rows(dropped: float) -> tuple[list[dict], list[dict]]:
    dense = [{"variant": "v", "budget": "2K", "epochs": 1.0, "N": n, "loss": loss + 0.01 * s, "seed": s}
             for n, loss in ((1000, 5.0), (4000, 4.8)) for s in (0, 1)]
    moe = [{"variant": "v", "budget": "2K", "epochs": 1.0, "N": 1010, "N_all": 4010, "loss": 4.9 + 0.01 * s,
            "seed": s, "moe": {"settings": {"experts": 4, "top_k": 1, "capacity_factor": 1.25},
                               "dropped_share": dropped}} for s in (0, 1)]
    return dense, moe


def test_a_dropped_share_above_switchs_range_is_named(tmp_path):
    text = "\n".join(moe_section(*_rows(0.07), tmp_path))
    assert "| 7.0% |" in text
    assert "7.0% of assignments dropped at capacity factor 1.25, above Switch's range (under 5%)" in text
    assert "equal active parameters (MoE 1,010 vs dense 1,000)" in text
    within = "\n".join(moe_section(*_rows(0.03), tmp_path))
    assert "| 3.0% |" in within and "above Switch's range" not in within
