"""rl-zoo3's record_video and plotting scripts on our log folders (the shipped agents are a zoo log folder)."""

import pickle

import numpy as np
import pytest

from dreamer_sb3.zoo import record_video
from dreamer_sb3.zoo._cli import run_rl_zoo3_script
from dreamer_sb3.zoo.registry import AGENTS_DIR


def test_record_video_of_the_shipped_agent(tmp_path, capsys):
    """No -f: the shipped agent; the recurrent state goes through rl-zoo3's loop; an MP4 comes out."""
    pytest.importorskip("moviepy")
    record_video.main(["--algo", "dreamerv3", "--env", "CartPole-v1", "-n", "40", "-o", str(tmp_path), "--no-render"])
    assert "zoo/agents/dreamerv3/CartPole-v1_" in capsys.readouterr().out
    videos = list(tmp_path.glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


def test_record_video_default_output_is_not_the_package(tmp_path, monkeypatch):
    pytest.importorskip("moviepy")
    monkeypatch.chdir(tmp_path)
    record_video.main(["--algo", "dreamerv3", "--env", "CartPole-v1", "-n", "20", "--no-render"])
    assert list((tmp_path / "videos").glob("*.mp4"))
    assert not (AGENTS_DIR / "dreamerv3" / "CartPole-v1_1" / "videos").exists()


@pytest.fixture
def captured_figures(monkeypatch):
    """Headless matplotlib; ``plt.show`` keeps the figures it would have shown (figures left open by earlier tests
    in the same worker are closed first, so only the script's own figures are captured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.extend(plt.figure(n) for n in plt.get_fignums()))
    yield shown
    plt.close("all")


def test_rl_zoo3_plot_train_reads_our_monitor_files(captured_figures):
    run_rl_zoo3_script("rl_zoo3.plots.plot_train", ["-a", "dreamerv3", "-e", "CartPole-v1", "-f", str(AGENTS_DIR), "-w", "5"])
    (fig,) = captured_figures
    (line,) = fig.axes[0].get_lines()
    x, y = line.get_data()
    assert len(x) > 5 and y.max() > 100  # training episodes of the shipped CartPole run, rolling mean


def test_rl_zoo3_all_plots_reads_our_evaluations(tmp_path, captured_figures):
    pytest.importorskip("seaborn")
    out = tmp_path / "dreamers"
    run_rl_zoo3_script(
        "rl_zoo3.plots.all_plots",
        [
            "-a",
            "dreamerv3",
            "dreamerv2",
            "-e",
            "CartPole-v1",
            "-f",
            str(AGENTS_DIR),
            "-l",
            "shipped",
            "-o",
            str(out),
            "--no-display",
            "--no-million",
        ],
    )
    with open(f"{out}.pkl", "rb") as f:
        results = pickle.load(f)
    curves = results["CartPole-v1"]
    assert set(curves) == {"DREAMERV3-shipped", "DREAMERV2-shipped"}
    v3 = curves["DREAMERV3-shipped"]
    evaluations = np.load(AGENTS_DIR / "dreamerv3" / "CartPole-v1_1" / "evaluations.npz")
    np.testing.assert_allclose(v3["timesteps"], evaluations["timesteps"])
    np.testing.assert_allclose(v3["mean"], evaluations["results"].mean(1))
