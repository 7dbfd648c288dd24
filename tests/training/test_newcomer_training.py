"""Training commands as a newcomer meets them: a bad table is one line, a fit that cannot identify
a parameter says so, a report of fixed learning rates says they were fixed, and `train` on a
finished run says it is done instead of training again."""
from __future__ import annotations

from corpusprep.cli import main
from tests.training.test_ddp import CONFIG
from training.report import _lr_edge_note, _lr_section


def test_fit_table_with_a_word_for_a_number_is_one_line(tmp_path, capsys):
    table = tmp_path / "runs.csv"
    table.write_text("N,D,loss\n1000,5000,4.1\n1000,10000,3.9\n4000,5000,3.8\n4000,lots,3.5\n")
    assert main(["fit", "--table", str(table)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"corpusprep fit: error: {table} line 5: D = 'lots' is not a number"


def test_fit_on_two_model_sizes_says_what_it_cannot_identify(tmp_path, capsys):
    table = tmp_path / "runs.csv"
    rows = [(n, d, 2.0 + 300 / n ** 0.3 + 900 / d ** 0.3) for n in (1000, 4000) for d in (5000, 10000, 20000, 40000)]
    table.write_text("N,D,loss\n" + "".join(f"{n},{d},{loss:.5f}\n" for n, d, loss in rows))
    assert main(["fit", "--table", str(table), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warning: 2 model sizes: A and alpha cannot be identified" in out
    assert "token counts" not in out  # four token counts: B and beta can be


def test_a_report_of_fixed_learning_rates_says_so():
    text = "\n".join(_lr_section({"chosen": {"s": 0.003}, "losses": {}, "search": {}}))
    assert "Fixed in the sweep config" in text and "None" not in text and "| s | 0.003 | fixed |" in text


def test_a_searched_rate_on_the_grid_edge_is_called_a_bound():
    search = {"chosen": {"a": 0.001, "b": 0.002, "c": 0.003, "a_moe": 0.001},
              "losses": {"a": "0.001: 5.6, 0.002: 5.7, 0.003: 5.8", "b": "0.001: 5.8, 0.002: 5.7, 0.003: 5.9",
                         "c": "0.001: 6.0, 0.002: 5.9, 0.003: 5.85", "a_moe": "that of a"},
              "search": {"variant": "v", "budget": "2K", "grid": [0.003, 0.001, 0.002], "seeds": [0]}}
    table = "\n".join(_lr_section(search))
    assert "| a | 0.001 (lowest of the grid) |" in table and "| c | 0.003 (highest of the grid) |" in table
    assert "| b | 0.002 |" in table and "| a_moe | 0.001 |" in table  # interior; taken from another size
    note = _lr_edge_note(search)
    assert len(note) == 1 and "a: 0.001, the lowest; c: 0.003, the highest" in note[0]
    assert _lr_edge_note({"chosen": {"s": 0.003}, "losses": {}, "search": {}}) == []  # fixed: nothing searched


def test_train_on_a_finished_run_says_it_is_done(tmp_path, small_shards, capsys):
    cfg = tmp_path / "t.toml"
    cfg.write_text(CONFIG.format(shards=small_shards))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert "val loss" in first and "already trained" not in first
    stamp = (out / "checkpoint.pt").stat().st_mtime_ns
    assert main(["train", str(cfg), "--out", str(out), "--no-progress"]) == 0
    again = capsys.readouterr().out
    assert "already trained with these settings" in again and (out / "checkpoint.pt").stat().st_mtime_ns == stamp
