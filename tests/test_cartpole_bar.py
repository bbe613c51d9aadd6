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


def test_the_zoo_entrys_committed_runs_hold_the_bar(cartpole_bar, tmp_path):
    """The CartPole entry's status comment (and docs/benchmarks.md) claims the bar on 5 seeds: its committed runs,
    at the entry's world-model learning rate, must show it."""
    import yaml

    folder = ROOT / "benchmarks/results/issue12_cartpole_wmlr3e-4"
    runs = [json.loads(f.read_text()) for f in sorted((folder / "runs").glob("dreamerv3_*.json"))]
    entry = yaml.safe_load((ROOT / "zoo/hyperparams/dreamerv3.yml").read_text())["CartPole-v1"]
    assert {run["params"]["learning_rate"] for run in runs} == {entry["learning_rate"]}
    rows = [cartpole_bar.bar_row(run) for run in runs]
    assert [r["seed"] for r in rows] == [0, 1, 2, 3, 4] and all(r["passes"] for r in rows)
    # two settings with different seed counts share one figure: one colour per setting in every panel
    before = [json.loads(f.read_text()) for f in sorted((ROOT / "benchmarks/results/issue12_cartpole/runs").glob("*.json"))]
    fig = cartpole_bar._plot({"before": before, "entry": runs}, tmp_path / "b.png")
    colours = {}
    for ax in fig.axes:
        for line in ax.get_lines()[:-1]:  # the last line is the hold mark
            colours.setdefault(line.get_label(), set()).add(line.get_color())
    assert set(colours) == {"before", "entry"} and all(len(c) == 1 for c in colours.values())
    assert colours["before"] != colours["entry"] and len(fig.axes) == 5
    assert (tmp_path / "b.png").stat().st_size > 0
    # more settings than tab10 has colours (the docs figure has eleven): still one distinct colour each
    many = cartpole_bar._plot({f"s{i}": before for i in range(12)}, tmp_path / "m.png")
    drawn = {line.get_label(): line.get_color() for line in many.axes[0].get_lines()[:-1]}
    assert len(drawn) == 12 and len(set(drawn.values())) == 12
