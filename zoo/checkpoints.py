"""Crash-safe training through the zoo: checkpoints that hold the replay, written atomically, and ``-i`` that resumes.

rl-zoo3's ``CheckpointCallback`` saves only the model (a Dreamer resumed from it re-learns its world model on an empty
replay), ``--save-replay-buffer`` writes the replay only at the end of a run, and ``-i`` restarts ``num_timesteps``
at 0 (so the random prefill runs again). For our algorithms the zoo's ``train`` does instead:

- ``--save-freq N``: every ``N`` env steps, ``rl_model_<steps>_steps.zip`` *and* ``rl_model_replay_buffer_<steps>_steps.pkl``
  (only the newest replay checkpoint is kept: replays are large; ``--no-checkpoint-replay`` keeps the models only);
- ``--checkpoint-minutes M``: every ``M`` minutes of wall-clock, ``latest.zip`` and ``latest_replay_buffer.pkl``
  (overwritten each time);
- every file is written to a temporary name and renamed (``os.replace``), the replay before the model: a kill at any
  moment leaves the previous complete checkpoint, never a truncated file, and a model file always has its replay;
- the final model is also saved atomically;
- ``-i <run>/rl_model_<steps>_steps.zip`` (or ``latest.zip``) loads the weights, optimizers, return normaliser (a
  policy buffer), the train-ratio credit and update count, the replay written with that checkpoint (with its sampling
  RNG), and continues ``num_timesteps`` (SB3's ``reset_num_timesteps=False``): the random prefill does not run again,
  and ``-n`` counts the *additional* env steps (to finish a run of ``T`` steps from a checkpoint at ``k``, pass
  ``-n T-k``).

What restarts: the envs are reset (the episode in flight at the crash is lost; the replay marks the new episode's
first step, so no sequence crosses the resume point), the episode statistics (``rollout/ep_rew_mean``) start empty,
the env step in flight when the checkpoint was written is not in its replay, and TensorBoard continues in a new run
folder (``DreamerV3_2``) with the step axis continuing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

from dreamer_sb3.zoo.registry import ALGORITHMS

REPLAY_INFIX = "replay_buffer_"
LATEST = "latest"


def save_atomically(model: BaseAlgorithm, path: str, replay_path: str | None = None) -> None:
    """Save ``model`` to ``path`` (a ``.zip``) and, first, its replay to ``replay_path``, each through a temporary
    file renamed into place, so an interruption never leaves a truncated or half-written pair."""
    if replay_path is not None and getattr(model, "replay_buffer", None) is not None:
        model.save_replay_buffer(replay_path)  # type: ignore[attr-defined]  # SequenceReplay.save: tmp + os.replace
    tmp = f"{path}.tmp"
    model.save(tmp)  # SB3 keeps a suffix it is given: the file is written as "<path>.tmp"
    os.replace(tmp, path)


def replay_path_for(model_path: str) -> str:
    """The replay checkpoint written beside a model checkpoint: ``rl_model_<N>_steps.zip`` ->
    ``rl_model_replay_buffer_<N>_steps.pkl``, ``latest.zip`` -> ``latest_replay_buffer.pkl``, else rl-zoo3's
    ``replay_buffer.pkl`` in the same folder."""
    folder, name = os.path.split(model_path)
    stem = name[: -len(".zip")] if name.endswith(".zip") else name
    if stem == LATEST:
        return os.path.join(folder, f"{LATEST}_replay_buffer.pkl")
    prefix, sep, rest = stem.rpartition("_")
    if sep and rest == "steps":
        head, _, steps = prefix.rpartition("_")
        if steps.isdigit():
            return os.path.join(folder, f"{head}_{REPLAY_INFIX}{steps}_steps.pkl")
    return os.path.join(folder, "replay_buffer.pkl")


class ReplayCheckpointCallback(CheckpointCallback):
    """SB3's ``CheckpointCallback`` with atomic writes, the replay saved with every model checkpoint (before it), and
    only the newest replay checkpoint kept."""

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            model_path = self._checkpoint_path(extension="zip")
            replay_path = self._checkpoint_path(REPLAY_INFIX, extension="pkl") if self.save_replay_buffer else None
            previous = getattr(self, "_last_replay", None)
            save_atomically(self.model, model_path, replay_path)
            if replay_path is not None:
                if previous is not None and previous != replay_path:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(previous)
                self._last_replay = replay_path
            if self.verbose >= 2:
                print(f"Saving model checkpoint to {model_path}" + (f" with its replay {replay_path}" if replay_path else ""))
        return True


class LatestCheckpointCallback(BaseCallback):
    """Every ``minutes`` of wall-clock time, overwrite ``latest.zip`` and ``latest_replay_buffer.pkl`` in ``save_path``
    (atomically, replay first)."""

    def __init__(self, minutes: float, save_path: str, save_replay_buffer: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        if minutes <= 0:
            raise ValueError(f"minutes must be positive, got {minutes}")
        self.seconds = 60.0 * minutes
        self.save_path = save_path
        self.save_replay_buffer = save_replay_buffer
        self._last = time.monotonic()

    def _init_callback(self) -> None:
        os.makedirs(self.save_path, exist_ok=True)
        self._last = time.monotonic()

    def _on_step(self) -> bool:
        if time.monotonic() - self._last >= self.seconds:
            path = os.path.join(self.save_path, f"{LATEST}.zip")
            save_atomically(self.model, path, replay_path_for(path) if self.save_replay_buffer else None)
            self._last = time.monotonic()
            if self.verbose >= 1:
                print(f"Saved the latest checkpoint ({self.num_timesteps} steps) to {path}")
        return True


def experiment_manager_class(checkpoint_replay: bool = True, checkpoint_minutes: float = 0.0) -> type:
    """rl-zoo3's ``ExperimentManager`` with the crash-safe behaviour above for dreamer-sb3 algorithms (other
    algorithms are untouched)."""
    from rl_zoo3.exp_manager import ExperimentManager

    class DreamerExperimentManager(ExperimentManager):
        def _ours(self) -> bool:
            return self.algo in ALGORITHMS

        def create_callbacks(self) -> None:
            super().create_callbacks()
            if not self._ours():
                return
            for i, cb in enumerate(self.callbacks):
                if type(cb) is CheckpointCallback:
                    self.callbacks[i] = ReplayCheckpointCallback(
                        save_freq=cb.save_freq,
                        save_path=cb.save_path,
                        name_prefix=cb.name_prefix,
                        save_replay_buffer=checkpoint_replay,
                        verbose=cb.verbose,
                    )
            if checkpoint_minutes > 0:
                self.callbacks.append(LatestCheckpointCallback(checkpoint_minutes, self.save_path, checkpoint_replay, 1))

        def _load_pretrained_agent(self, hyperparams: dict[str, Any], env: Any) -> BaseAlgorithm:
            if not self._ours():
                return super()._load_pretrained_agent(hyperparams, env)
            # rl-zoo3 looks for <folder>/replay_buffer.pkl only; a checkpoint's replay sits beside it under its own name
            model = super()._load_pretrained_agent(hyperparams, env)
            replay = replay_path_for(self.trained_agent)
            if os.path.basename(replay) != "replay_buffer.pkl" and os.path.exists(replay):
                print(f"Loading the checkpoint's replay buffer {replay}")
                model.load_replay_buffer(replay)  # type: ignore[attr-defined]
            elif not os.path.exists(replay):
                print(
                    f"No replay buffer found for {self.trained_agent} (looked for {replay}): training resumes on an empty one"
                )
            return model

        def learn(self, model: BaseAlgorithm) -> None:
            if self._ours() and self.continue_training:
                # continue the step count: no second random prefill, schedules and logs carry on
                model.learn = functools.partial(model.learn, reset_num_timesteps=False)  # type: ignore[method-assign]
            try:
                super().learn(model)
            finally:
                model.__dict__.pop("learn", None)

        def save_trained_model(self, model: BaseAlgorithm) -> None:
            if not self._ours():
                super().save_trained_model(model)
                return
            print(f"Saving to {self.save_path}")
            replay = os.path.join(self.save_path, "replay_buffer.pkl") if self.save_replay_buffer else None
            save_atomically(model, os.path.join(self.save_path, f"{self.env_name}.zip"), replay)
            if self.normalize:
                vec_normalize = model.get_vec_normalize_env()
                assert vec_normalize is not None
                vec_normalize.save(os.path.join(self.params_path, "vecnormalize.pkl"))

    return DreamerExperimentManager


@contextlib.contextmanager
def crash_safe_rl_zoo3(checkpoint_replay: bool = True, checkpoint_minutes: float = 0.0) -> Iterator[None]:
    """While active, ``rl_zoo3.train.train()`` uses :func:`experiment_manager_class`'s manager."""
    import rl_zoo3.train

    original = rl_zoo3.train.ExperimentManager
    rl_zoo3.train.ExperimentManager = experiment_manager_class(checkpoint_replay, checkpoint_minutes)  # type: ignore[misc]
    try:
        yield
    finally:
        rl_zoo3.train.ExperimentManager = original  # type: ignore[misc]
