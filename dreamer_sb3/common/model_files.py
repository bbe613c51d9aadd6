"""Which algorithm wrote a saved model zip, read from its JSON ``data`` entry without unpickling anything.

Loading a DreamerV2 zip with ``DreamerV3.load`` (or a PPO zip with any of ours) would otherwise fail
deep inside SB3 with a long state-dict or ``__init__`` ``TypeError``; :func:`check_model_file` says
which algorithm the file holds and how to load it instead.
"""

from __future__ import annotations

import io
import json
import pathlib
import zipfile
from typing import Any

#: attributes only one of our algorithms saves, most specific first (read from the zip's JSON ``data``)
DREAMER_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PlaNet", ("planning_horizon", "n_candidates")),
    ("DreamerV3", ("actor_grad", "slow_reg_scale", "replay_value_scale")),
    ("DreamerV2", ("kl_balance", "target_update_interval")),
    ("DreamerV1", ("imag_horizon",)),
)
#: attributes that tell SB3's own algorithms apart
SB3_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PPO", ("clip_range",)),
    ("SAC", ("target_entropy", "ent_coef_optimizer")),
    ("TD3", ("policy_delay",)),
    ("DQN", ("exploration_rate", "target_update_interval")),
    ("DDPG", ("tau",)),
    ("A2C", ("n_steps",)),
)


def read_data(path: str | pathlib.Path | io.BufferedIOBase) -> dict[str, Any] | None:
    """The JSON ``data`` entry of an SB3 model zip, or ``None`` when it cannot be read (SB3 then reports the problem)."""
    try:
        if isinstance(path, str | pathlib.Path):
            p = pathlib.Path(path)
            if not p.exists() and p.with_suffix(".zip").exists():
                p = p.with_suffix(".zip")
            with zipfile.ZipFile(p) as z:
                return json.loads(z.read("data"))
        pos = path.tell()
        try:
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("data"))
        finally:
            path.seek(pos)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, AttributeError):
        return None


def algorithm_of(data: dict[str, Any]) -> tuple[str | None, bool]:
    """``(algorithm name or None, written by dreamer_sb3)`` for a model's ``data``."""
    policy = data.get("policy_class")
    module = policy.get("__module__", "") if isinstance(policy, dict) else ""
    ours = module.startswith("dreamer_sb3") or any(k in data for k in ("batch_length", "train_ratio"))
    if not ours and not module.startswith("stable_baselines3"):
        return None, False  # sb3-contrib or another library: name the policy's module instead of guessing
    for name, keys in DREAMER_MARKERS if ours else SB3_MARKERS:
        if keys[0] in data:
            return name, ours
    return None, ours


def check_model_file(path: str | pathlib.Path | io.BufferedIOBase, cls: type) -> None:
    """Raise a ``ValueError`` naming the algorithm when ``path`` holds a model another algorithm wrote.

    :param cls: the class whose ``load`` was called
    """
    data = read_data(path)
    if data is None:
        return
    name, ours = algorithm_of(data)
    if ours:
        import dreamer_sb3

        if name is None:
            return
        saved_cls = getattr(dreamer_sb3, name)
        if issubclass(cls, saved_cls):
            return
        raise ValueError(f"{path!r} holds a {name} model; load it with {name}.load (not {cls.__name__}.load)")
    module = data.get("policy_class", {}).get("__module__", "?") if isinstance(data.get("policy_class"), dict) else "?"
    what = f"a {name} model" if name else f"a model of another library (policy from {module})"
    fix = f"load it with {name}.load from stable_baselines3" if name else "load it with the algorithm that saved it"
    raise ValueError(f"{path!r} holds {what}, not a {cls.__name__} model: {fix}")
