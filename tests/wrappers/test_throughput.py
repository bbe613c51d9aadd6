"""The throughput measurement behind docs/wrappers.md."""

from dreamer_sb3.wrappers.throughput import Measurement, main, run


def test_measures_a_preset(capsys, tmp_path):
    (result,) = run(["minecraft stand-in (diamond)"], steps=50)
    assert isinstance(result, Measurement)
    assert result.steps == 50 and result.seconds > 0 and result.steps_per_second > 0
    main(["--only", "CartPole pixels", "--steps", "20", "--json", str(tmp_path / "out.json")])
    out = capsys.readouterr().out
    assert "| CartPole pixels | `dreamer_sb3/CartPole-pixels-v0` |" in out
    assert (tmp_path / "out.json").read_text().startswith("[")
