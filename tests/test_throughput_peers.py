"""``benchmarks/throughput.py --peers`` without the peers installed: the ratio table and the skip path.

Nothing here imports torchrl or sheeprl, starts a subprocess or trains a model.
"""

import importlib.util
import json
import os
import sys
import types

import pytest

from dreamer_sb3.common.sizes import MODEL_SIZES

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture
def throughput(monkeypatch):
    """``benchmarks/throughput.py`` as a module (its ``peers`` package imported from next to it)."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    spec = importlib.util.spec_from_file_location("throughput_under_test", os.path.join(BENCHMARKS, "throughput.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(config, precision, actor_grad, update_s, step1, step16, **extra):
    return dict(
        config=config,
        precision=precision,
        actor_grad=actor_grad,
        update_s=update_s,
        policy_step_ms_batch1=step1,
        policy_step_ms_batch16=step16,
        world_model_s=update_s / 2,
        behavior_s=update_s / 2,
        updates_per_s=1 / update_s,
        peak_rss_gb=1.0,
        params=dict(world_model=15_687_811, actor=1_056_780, critic=1_181_439),
        **extra,
    )


def _peer(name, precision, actor_grad, update_s, step1, step16):
    return _row(
        f"peer:{name}",
        precision,
        actor_grad,
        update_s,
        step1,
        step16,
        peer=name,
        version=f"{name} 1.0",
        size="vision",
        notes=[f"{name}: a note"],
    )


OURS = [
    _row("vision", "fp32", "reinforce", 2.0, 4.0, 8.0),
    _row("vision", "bf16", "reinforce", 1.0, 2.0, 4.0),
    _row("vision", "fp32", "dynamics", 10.0, 5.0, 10.0),
    _row("tiny", "fp32", "reinforce", 0.1, 0.1, 0.1),  # never a reference
]


def test_ratios_are_peer_over_ours(throughput):
    rows = throughput.peer_ratios(
        OURS, [_peer("torchrl", "fp32", "reinforce", 3.0, 6.0, 2.0), _peer("sheeprl", "fp32", "dynamics", 5.0, 10.0, 30.0)]
    )
    torchrl, sheeprl = rows
    assert torchrl["ratios"]["fp32"] == pytest.approx(
        dict(update_s=1.5, policy_step_ms_batch1=1.5, policy_step_ms_batch16=0.25)
    )
    assert torchrl["ratios"]["bf16"] == pytest.approx(
        dict(update_s=3.0, policy_step_ms_batch1=3.0, policy_step_ms_batch16=0.5)
    )
    # compared with our row of the same actor gradient; no bf16 row of ours with it
    assert list(sheeprl["ratios"]) == ["fp32"]
    assert sheeprl["ratios"]["fp32"] == pytest.approx(
        dict(update_s=0.5, policy_step_ms_batch1=2.0, policy_step_ms_batch16=3.0)
    )
    table = throughput.format_ratio_table(rows)
    assert "| torchrl | fp32 | reinforce | 1.50x | 3.00x | 1.50x | 3.00x | 0.25x | 0.50x |" in table
    assert "| sheeprl | fp32 | dynamics | 0.50x | - | 2.00x | - | 3.00x | - |" in table
    assert "smoke" not in table


def test_ratio_table_flags_smoke_sizes(throughput):
    peer = dict(_peer("torchrl", "fp32", "reinforce", 1.0, 1.0, 1.0), size="tiny")
    assert "smoke tests" in throughput.format_ratio_table(throughput.peer_ratios(OURS, [peer]))


def test_param_table_lists_every_implementation(throughput):
    table = throughput.format_param_table(
        OURS, [_peer("torchrl", "fp32", "reinforce", 1.0, 1.0, 1.0), _peer("torchrl", "fp32", "dynamics", 1.0, 1.0, 1.0)]
    )
    assert table.count("15,687,811 | 1,056,780 | 1,181,439") == 2  # ours once, each peer once
    assert "| ours (vision) |" in table and "| torchrl 1.0 |" in table


def test_missing_peer_is_skipped_with_install_line(throughput, monkeypatch, capsys):
    monkeypatch.setitem(throughput.peers.REGISTRY, "torchrl", "no_such_module_for_the_throughput_test")
    monkeypatch.setitem(sys.modules, throughput.peers.REGISTRY["sheeprl"], None)  # an import that fails
    found, skipped = throughput.available_peers(["torchrl", "sheeprl"])
    lines = capsys.readouterr().out.splitlines()
    assert found == [] and [s["peer"] for s in skipped] == ["torchrl", "sheeprl"]
    assert len(lines) == 2
    assert lines[0].startswith("skipping peer torchrl: not installed") and "pip install torchrl==0.14.1" in lines[0]
    assert lines[1].startswith("skipping peer sheeprl: not installed") and "pip install sheeprl==0.8.4" in lines[1]
    assert all("-c torch-pin.txt" in line for line in lines)


def test_main_with_a_missing_peer_does_not_crash(throughput, monkeypatch, capsys, tmp_path):
    """A run asking for an installed and a missing peer: one skip line, the tables, the JSON."""
    monkeypatch.setitem(throughput.peers.REGISTRY, "torchrl", "no_such_module_for_the_throughput_test")
    monkeypatch.setitem(throughput.peers.REGISTRY, "sheeprl", "fake_sheeprl_adapter")
    monkeypatch.setitem(sys.modules, "fake_sheeprl_adapter", types.ModuleType("fake_sheeprl_adapter"))
    canned = {
        "vision,fp32,reinforce,eager": OURS[0],
        "peer:sheeprl,fp32,reinforce": _peer("sheeprl", "fp32", "reinforce", 4.0, 8.0, 8.0),
    }
    specs = []

    def fake_run_child(label, spec, args):
        specs.append(spec)
        return canned[spec]

    monkeypatch.setattr(throughput, "_run_child", fake_run_child)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "throughput.py",
            "--configs",
            "vision",
            "--precisions",
            "fp32",
            "--peers",
            "torchrl",
            "sheeprl",
            "--output",
            str(tmp_path),
        ],
    )
    throughput.main()
    out = capsys.readouterr().out
    assert specs == ["vision,fp32,reinforce,eager", "peer:sheeprl,fp32,reinforce"]  # nothing launched for torchrl
    assert sum(line.startswith("skipping peer torchrl") for line in out.splitlines()) == 1
    assert "| sheeprl | fp32 | reinforce | 2.00x | - | 2.00x | - | 1.00x | - |" in out
    assert "note: sheeprl: a note" in out
    saved = json.loads((tmp_path / "throughput.json").read_text())
    assert [r["config"] for r in saved["results"]] == ["vision"]
    assert [r["peer"] for r in saved["peers"]] == ["sheeprl"]
    assert saved["peer_ratios"][0]["ratios"]["fp32"]["update_s"] == pytest.approx(2.0)
    assert [s["peer"] for s in saved["peers_skipped"]] == ["torchrl"]


def test_peer_sizes_are_our_model_sizes(throughput):
    """The peers' sizes come from ``MODEL_SIZES``; these are the values they were typed with before."""
    assert throughput.peers.SIZES == {
        "vision": dict(deter=512, hidden=512, units=512, layers=2, cnn_depth=32, stoch=32, classes=32, bins=255),
        "tiny": dict(deter=32, hidden=32, units=32, layers=1, cnn_depth=4, stoch=4, classes=4, bins=255),
        "L": dict(deter=2048, hidden=768, units=768, layers=4, cnn_depth=64, stoch=32, classes=32, bins=255),
        "XL": dict(deter=4096, hidden=1024, units=1024, layers=5, cnn_depth=96, stoch=32, classes=32, bins=255),
    }
    assert list(throughput.peers.SIZES) == ["vision", "tiny", "L", "XL"]  # the order of ``--peer-size`` choices
    # each peer size is compared with our config of the same model size
    for peer_size, config in throughput.PEER_SIZE_CONFIG.items():
        if peer_size != "tiny":
            ours = MODEL_SIZES[throughput.CONFIGS[config]["model_size"]]
            assert {k: v for k, v in throughput.peers.SIZES[peer_size].items() if k != "bins"} == ours
