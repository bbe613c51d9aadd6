"""``benchmarks/device_check.py``: the script a lent GPU runs to prove every algorithm trains there, run on the CPU."""

import importlib.util
import json
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture
def device_check():
    spec = importlib.util.spec_from_file_location("device_check_under_test", os.path.join(BENCHMARKS, "device_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checks_pass_on_cpu_and_write_json(device_check, tmp_path, capsys):
    status = device_check.main(
        ["--device", "cpu", "--steps", "48", "--algos", "dreamerv3", "dreamerv1", "--obs", "vector", "-o", str(tmp_path)]
    )
    assert status == 0
    rows = json.loads((tmp_path / "device_check.json").read_text())["rows"]
    assert [(r["algo"], r["ok"]) for r in rows] == [("dreamerv3", True), ("dreamerv1", True)]
    assert all(r["updates"] > 0 and r["device"] == "cpu" for r in rows)
    assert "| dreamerv3 | vector | cpu |" in capsys.readouterr().out


def test_a_failing_check_fails_the_run(device_check, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("Expected all tensors to be on the same device")

    monkeypatch.setattr(device_check, "check_one", broken)
    assert device_check.main(["--device", "cpu", "--algos", "planet", "--obs", "image", "-o", str(tmp_path)]) == 1
    assert "NO: RuntimeError: Expected all tensors" in capsys.readouterr().out


def test_cuda_without_a_gpu_is_a_clear_error(device_check, monkeypatch):
    import torch as th

    monkeypatch.setattr(th.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        device_check.main(["--device", "cuda"])
