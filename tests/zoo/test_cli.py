"""Packaging: the ``dreamer-zoo`` console command, ``py.typed``, and ``train --help`` showing our flags."""

import importlib
import importlib.resources
import pathlib
import subprocess

import pytest

from dreamer_sb3.zoo import cli, train

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_console_command_is_declared_and_installed():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "dreamer-zoo"]
    assert script.value == "dreamer_sb3.zoo.cli:main"
    assert 'dreamer-zoo = "dreamer_sb3.zoo.cli:main"' in (ROOT / "pyproject.toml").read_text()
    exe = cli.installed_command()
    assert exe is not None, "pip install -e . installs the dreamer-zoo command"
    out = subprocess.run([exe, "list", "--pretrained"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("algo") and "dreamerv3  CartPole-v1" in out.stdout


def test_subcommands_map_to_the_modules(capsys):
    assert set(cli.COMMANDS) == {"train", "enjoy", "record_video", "list", "benchmark", "pretrained", "load_from_hub"}
    for module in cli.COMMANDS.values():
        assert callable(importlib.import_module(f"dreamer_sb3.zoo.{module}").main)
    cli.main(["list", "--algo", "planet", "--pretrained"])
    assert capsys.readouterr().out.splitlines()[2].split()[:3] == ["planet", "CartPole-v1", "tuned"]
    with pytest.raises(SystemExit, match="unknown command 'trian'"):
        cli.main(["trian"])
    cli.main(["--help"])
    assert "record_video" in capsys.readouterr().out


def test_py_typed_ships_with_the_package():
    assert (importlib.resources.files("dreamer_sb3") / "py.typed").is_file()
    assert '"dreamer_sb3" = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()  # package-data: wheels too


def test_train_help_lists_our_flags_beside_rl_zoo3s(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--eval-freq" in out  # rl-zoo3's
    ours = out.index("dreamer-sb3 flags")
    assert out.index("--eval-freq") < ours
    for flag in ("--final-eval-episodes", "--max-model-size", "--max-train-ratio"):
        assert flag in out[ours:]


def test_enjoy_and_record_video_get_the_flag_for_the_recorded_file(tmp_path, capsys):
    """V2 CartPole's results.json records best_model.zip: enjoy / record_video add --load-best (and say so), unless
    the user chose a file; a checkpoint is loaded with --load-checkpoint N; a run without results.json is untouched."""
    import json
    import shutil

    from dreamer_sb3.zoo._cli import with_recorded_model
    from dreamer_sb3.zoo.pretrained import recorded_model_flags, run_dir
    from dreamer_sb3.zoo.registry import AGENTS_DIR

    base = ["--algo", "dreamerv2", "--env", "CartPole-v1", "-f", str(AGENTS_DIR)]
    assert with_recorded_model(base) == [*base, "--load-best"]
    assert "records its score for --load-best" in capsys.readouterr().out
    assert with_recorded_model([*base, "--load-last-checkpoint"]) == [*base, "--load-last-checkpoint"]
    assert recorded_model_flags("dreamerv3", "Pendulum-v1") == []  # the final model is the recorded one
    assert recorded_model_flags("dreamerv3", "CartPole-v1") == ["--load-best"]
    run = tmp_path / "dreamerv3" / "CartPole-v1_1"
    shutil.copytree(run_dir("dreamerv3", "CartPole-v1"), run)
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "model_file": "rl_model_4000_steps.zip"}))
    assert recorded_model_flags("dreamerv3", "CartPole-v1", folder=tmp_path) == ["--load-checkpoint", "4000"]
    (run / "results.json").unlink()
    assert recorded_model_flags("dreamerv3", "CartPole-v1", folder=tmp_path) == []
    assert recorded_model_flags("dreamerv3", "Acrobot-v1", folder=tmp_path) == []  # no such run
