"""``benchmarks/wrapper_throughput.py``: the env throughput measurement behind docs/wrappers.md."""

import importlib
import pathlib
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def wrapper_throughput(monkeypatch):
    """The benchmark script as a fresh module."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "wrapper_throughput", raising=False)
    return importlib.import_module("wrapper_throughput")


def test_measures_a_preset(wrapper_throughput, capsys, tmp_path):
    (result,) = wrapper_throughput.run(["minecraft stand-in (diamond)"], steps=50)
    assert isinstance(result, wrapper_throughput.Measurement)
    assert result.steps == 50 and result.seconds > 0 and result.steps_per_second > 0
    wrapper_throughput.main(["--only", "CartPole pixels", "--steps", "20", "--json", str(tmp_path / "out.json")])
    out = capsys.readouterr().out
    assert "| CartPole pixels | `dreamer_sb3/CartPole-pixels-v0` |" in out
    assert (tmp_path / "out.json").read_text().startswith("[")
