"""Loading model files without running code from them.

An SB3 model zip stores what JSON cannot hold (classes, schedules, spaces, deques, arrays) as cloudpickle under
``:serialized:`` keys of its ``data`` entry, and ``BaseAlgorithm.load`` unpickles them: a crafted file runs arbitrary
code on load. Weights are safe (SB3 reads the ``.pth`` entries with ``torch.load(weights_only=True)``).

A Dreamer model's pickled entries are all rebuildable from plain data, so :meth:`DreamerAlgorithm.load` passes them to
SB3 as ``custom_objects`` (which SB3 uses *instead of* unpickling) and nothing is unpickled:

- ``policy_class``: the algorithm's own policy class, chosen by the module the file names;
- ``learning_rate`` / ``lr_schedule``: SB3's ``ConstantSchedule`` / ``LinearSchedule`` / ``FloatSchedule`` from their
  recorded fields (a custom callable cannot be rebuilt: pass it in ``custom_objects``, or as ``learning_rate=``);
- ``observation_space`` / ``action_space``: from the JSON ``space_specs`` that this package saves with every model,
  or, for files written before it did, from the readable fields SB3 records beside the pickle;
- ``_last_obs``, ``_last_episode_starts``, ``_last_original_obs``: ``None`` (the env is reset before training, as
  SB3 does when ``load`` is given an env); ``ep_info_buffer`` / ``ep_success_buffer``: empty (episode statistics
  of the saved run are not restored).

Any other pickled entry makes :func:`safe_custom_objects` raise :class:`UnsafeModelFileError`; pass
``allow_pickle=True`` to ``load`` only for files you trust.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule


class UnsafeModelFileError(ValueError):
    """A model file holds a pickled object that cannot be rebuilt without running code from the file."""


_trusted = False


def pickle_trusted() -> bool:
    """Whether :func:`trust_pickled_files` is in effect (the zoo's ``--allow-pickle``)."""
    return _trusted


@contextlib.contextmanager
def trust_pickled_files(trust: bool = True) -> Iterator[None]:
    """Within this context, ``load`` unpickles model files as SB3 does (``allow_pickle=True`` for every load): what
    the zoo's ``--allow-pickle`` flag does for the loads rl-zoo3 makes on its own."""
    global _trusted
    old, _trusted = _trusted, trust
    try:
        yield
    finally:
        _trusted = old


def _open_zip_bytes(path: str | pathlib.Path | io.BufferedIOBase) -> tuple[zipfile.ZipFile, str]:
    if isinstance(path, str | pathlib.Path):
        p = pathlib.Path(path)
        if not p.exists() and pathlib.Path(f"{p}.zip").exists():
            p = pathlib.Path(f"{p}.zip")
        return zipfile.ZipFile(p), str(p)
    position = path.tell()
    data = path.read()
    path.seek(position)
    return zipfile.ZipFile(io.BytesIO(data)), "<file object>"


def read_data(path: str | pathlib.Path | io.BufferedIOBase) -> tuple[dict[str, Any], str]:
    """The JSON ``data`` entry of an SB3 model zip (pickled entries left as their JSON description) and its name."""
    try:
        archive, name = _open_zip_bytes(path)
        with archive:
            return json.loads(archive.read("data").decode()), name
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"Cannot read model file {path!r}: not an SB3 model zip or corrupt ({e})") from e


# ---------------------------------------------------------------------- spaces as JSON
def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """A JSON-safe description of a Box / Discrete / MultiDiscrete / MultiBinary / Dict space (see :func:`space_from_json`)."""

    def compact(a: np.ndarray) -> Any:
        flat = np.asarray(a).ravel()
        return flat[0].item() if flat.size and (flat == flat[0]).all() else np.asarray(a).tolist()

    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": compact(space.low),
            "high": compact(space.high),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": np.asarray(space.nvec).tolist(),
            "start": np.asarray(space.start).tolist(),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(s) for k, s in space.spaces.items()}}
    raise TypeError(f"Cannot describe {space!r} as JSON")


def space_from_json(spec: dict[str, Any]) -> spaces.Space:
    """Rebuild a space described by :func:`space_to_json`."""
    kind = spec["type"]
    if kind == "Box":
        shape = tuple(int(s) for s in spec["shape"])
        dtype = np.dtype(spec["dtype"])
        low = np.broadcast_to(np.asarray(spec["low"], dtype=dtype), shape)
        high = np.broadcast_to(np.asarray(spec["high"], dtype=dtype), shape)
        return spaces.Box(low=low.copy(), high=high.copy(), shape=shape, dtype=dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(spec["n"]), start=int(spec.get("start", 0)), dtype=np.dtype(spec.get("dtype", "int64")))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(
            np.asarray(spec["nvec"]), dtype=np.dtype(spec.get("dtype", "int64")), start=np.asarray(spec.get("start"))
        )
    if kind == "MultiBinary":
        return spaces.MultiBinary(spec["n"])
    if kind == "Dict":
        return spaces.Dict({k: space_from_json(s) for k, s in spec["spaces"].items()})
    raise ValueError(f"Unknown space type {kind!r}")


_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)"


def _parse_printed_array(text: str, shape: tuple[int, ...], dtype: np.dtype, repr_value: str) -> np.ndarray | None:
    """An array from numpy's printed form; a summarised print (``...``) is accepted only when every printed value is
    the same (numpy summarises arrays of more than 1000 values, e.g. an image space's bounds)."""
    if repr_value not in ("None", ""):
        try:
            return np.full(shape, float(repr_value), dtype=dtype)
        except ValueError:
            return None
    values = re.findall(_NUMBER, text.replace("True", "").replace("False", ""))
    if not values or re.sub(_NUMBER, "", text).strip("[] \n.") != "":
        return None
    numbers = np.array([float(v) for v in values])
    if "..." in text:
        if not (numbers == numbers[0]).all():
            return None
        return np.full(shape, numbers[0], dtype=dtype)
    if numbers.size != int(np.prod(shape, dtype=np.int64)):
        return None
    return numbers.reshape(shape).astype(dtype)


def _legacy_space(desc: dict[str, Any]) -> spaces.Space | None:
    """A space from the readable fields SB3 stores beside a pickled space (files saved before ``space_specs``)."""
    kind = desc.get(":type:", "")
    try:
        if kind == "<class 'gymnasium.spaces.discrete.Discrete'>":
            return spaces.Discrete(int(desc["n"]), start=int(desc.get("start", 0)), dtype=np.dtype(desc.get("dtype", "int64")))
        if kind == "<class 'gymnasium.spaces.box.Box'>":
            dtype = np.dtype(desc["dtype"])
            shape = tuple(int(s) for s in (desc["_shape"] if isinstance(desc["_shape"], list) else json.loads(desc["_shape"])))
            low = _parse_printed_array(str(desc["low"]), shape, dtype, str(desc.get("low_repr", "None")))
            high = _parse_printed_array(str(desc["high"]), shape, dtype, str(desc.get("high_repr", "None")))
            if low is None or high is None:
                return None
            return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    except (KeyError, ValueError, TypeError):
        return None
    return None


# ---------------------------------------------------------------------- schedules
def _schedule_from_repr(text: str) -> Any | None:
    m = re.fullmatch(r"ConstantSchedule\(val=(" + _NUMBER + r")\)", text.strip())
    if m:
        return ConstantSchedule(float(m.group(1)))
    m = re.fullmatch(
        r"LinearSchedule\(start=(" + _NUMBER + r"), end=(" + _NUMBER + r"), end_fraction=(" + _NUMBER + r")\)", text.strip()
    )
    if m:
        return LinearSchedule(float(m.group(1)), float(m.group(2)), float(m.group(3)))
    return None


def _schedule(desc: dict[str, Any]) -> Any | None:
    kind = desc.get(":type:", "")
    try:
        if kind.endswith(".ConstantSchedule'>"):
            return ConstantSchedule(float(desc["val"]))
        if kind.endswith(".LinearSchedule'>"):
            return LinearSchedule(float(desc["start"]), float(desc["end"]), float(desc["end_fraction"]))
        if kind.endswith(".FloatSchedule'>"):
            inner = _schedule_from_repr(str(desc["value_schedule"]))
            return None if inner is None else FloatSchedule(inner)
    except (KeyError, ValueError, TypeError):
        return None
    return None


# ---------------------------------------------------------------------- the entry point
def safe_custom_objects(
    path: str | pathlib.Path | io.BufferedIOBase,
    algorithm: type,
    custom_objects: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``custom_objects`` for SB3's ``load`` that cover every pickled entry of the file, so that nothing is unpickled.

    :param path: the model zip
    :param algorithm: the algorithm class loading it (its ``policy_aliases`` name the acceptable policy classes)
    :param custom_objects: the caller's own replacements (kept; they win)
    :param overrides: keyword arguments given to ``load`` (they replace saved attributes after loading, so their
        values serve as replacements too)
    :raises UnsafeModelFileError: when an entry cannot be rebuilt without unpickling
    """
    data, name = read_data(path)
    result = dict(custom_objects or {})
    overrides = overrides or {}
    specs: dict[str, Any] = data["space_specs"] if isinstance(data.get("space_specs"), dict) else {}
    window = int(data.get("_stats_window_size", 100)) if isinstance(data.get("_stats_window_size", 100), int) else 100
    policies = {cls.__module__: cls for cls in getattr(algorithm, "policy_aliases", {}).values()}
    for key, value in data.items():
        if not (isinstance(value, dict) and ":serialized:" in value) or key in result:
            continue
        if key in overrides:
            result[key] = overrides[key]
            continue
        rebuilt: Any = _UNSET
        if key == "policy_class" and value.get("__module__") in policies:
            rebuilt = policies[value["__module__"]]
        elif key in ("learning_rate", "lr_schedule"):
            schedule = _schedule(value)
            if schedule is not None:
                rebuilt = schedule
        elif key in ("observation_space", "action_space"):
            space = None
            if isinstance(specs.get(key), dict):
                try:
                    space = space_from_json(specs[key])
                except (KeyError, ValueError, TypeError):
                    space = None
            rebuilt = space if space is not None else _legacy_space(value)
            if rebuilt is None:
                rebuilt = _UNSET
        elif key in ("_last_obs", "_last_episode_starts", "_last_original_obs"):
            rebuilt = None
        elif key in ("ep_info_buffer", "ep_success_buffer"):
            rebuilt = deque(maxlen=window)
        if rebuilt is _UNSET and key == "policy_class" and str(value.get("__module__", "")) not in policies:
            raise UnsafeModelFileError(
                f"The model file {name} holds a policy class from {value.get('__module__')!r}, which {algorithm.__name__} "
                f"does not use (its policies come from {sorted(policies)}): the file was written by another algorithm; "
                "load it with that algorithm's class. Unpickling its policy class would run code from the file; pass "
                "allow_pickle=True only if you trust it."
            )
        if rebuilt is _UNSET:
            raise UnsafeModelFileError(
                f"The model file {name} holds a pickled object under {key!r} ({value.get(':type:', 'unknown type')}) that "
                f"{algorithm.__name__} cannot rebuild from plain data, and unpickling it would run code from the file. "
                "If you trust the file (you or someone you trust wrote it), load it with allow_pickle=True (the zoo's "
                f"commands: --allow-pickle); otherwise pass a replacement with custom_objects={{{key!r}: ...}}."
            )
        result[key] = rebuilt
    return result


_UNSET = object()
