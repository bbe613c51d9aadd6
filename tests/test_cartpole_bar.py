"""``benchmarks/cartpole_bar.py``: issue 12's CartPole bar, read from benchmark output folders."""

import importlib
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def cartpole_bar(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.delitem(sys.modules, "cartpole_bar", raising=False)
    return importlib.import_module("cartpole_bar")


def _run(means, seed=0):
    return {"seed": seed, "train_cpu_seconds": 1.0, "curve": [{"steps": 1500 * i, "mean": m} for i, m in enumerate(means)]}


def test_bar_row_hand_computed(cartpole_bar):
    held = cartpole_bar.bar_row(_run([20, 300, 475, 450, 500]))  # 450 is not below the hold line
    assert (held["first_solved"], held["lowest_after"], held["below_hold_after"], held["passes"]) == (3000, 450, [], True)
    dipped = cartpole_bar.bar_row(_run([20, 480, 500, 449.5, 500, 420]))
    assert dipped["below_hold_after"] == [(4500, 449.5), (7500, 420)]
    assert (dipped["first_solved"], dipped["lowest_after"], dipped["final"], dipped["passes"]) == (1500, 420, 420, False)
    never = cartpole_bar.bar_row(_run([20, 474.9]))  # a run that never solves it fails the bar too
    assert (never["first_solved"], never["passes"]) == (None, False)


def test_reads_the_committed_entry_run(cartpole_bar, capsys, tmp_path):
    folder = ROOT / "benchmarks/results/issue12_cartpole"
    cartpole_bar.main([str(folder), "entry", "-o", str(tmp_path / "bar")])
    out = capsys.readouterr().out
    assert "| entry | 2 | 4500 | 303.8 | 25,500: 303.8, 30,000: 420.7 | 420.7 | fails |" in out
    rows = json.loads((tmp_path / "bar.json").read_text())["settings"]["entry"]
    assert [r["passes"] for r in rows] == [True, True, False]
    assert (tmp_path / "bar.png").stat().st_size > 0
    with pytest.raises(SystemExit, match="no dreamerv3"):
        cartpole_bar.main([str(tmp_path), "empty"])
