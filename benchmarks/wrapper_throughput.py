"""Measure the speed of the env presets: ``python benchmarks/wrapper_throughput.py [--steps N] [--only NAME ...]``.

Each preset is stepped with uniformly random actions (seeded) in a single process, resets included, after one
warm-up reset; the table gives agent steps per second and env frames per second (agent steps x action repeat /
frame skip), both by wall-clock time and per CPU-second of this process (all its threads; the latter is robust to
other load on the machine). Presets whose optional dependency is missing are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import gymnasium as gym

__all__ = ["PRESETS", "Measurement", "measure", "run"]


@dataclass
class Measurement:
    """One preset's throughput.

    :param name: preset name
    :param env_id: the registered id measured
    :param steps: agent steps taken
    :param seconds: wall-clock time of those steps
    :param cpu_seconds: CPU time of this process (all threads) for those steps
    :param frames_per_step: env frames per agent step
    :param episodes: episodes finished during the measurement
    """

    name: str
    env_id: str
    steps: int
    seconds: float
    cpu_seconds: float
    frames_per_step: int
    episodes: int

    @property
    def steps_per_second(self) -> float:
        """Agent steps per second."""
        return self.steps / self.seconds

    @property
    def frames_per_second(self) -> float:
        """Env frames per second."""
        return self.steps_per_second * self.frames_per_step

    @property
    def steps_per_cpu_second(self) -> float:
        """Agent steps per CPU-second."""
        return self.steps / self.cpu_seconds


#: name -> (registered id, gym.make kwargs, frames per agent step)
PRESETS: dict[str, tuple[str, dict, int]] = {
    "atari pong (64x64 RGB)": ("dreamer_sb3/atari-pong-v0", {}, 4),
    "atari pong (64x64 gray)": ("dreamer_sb3/atari-pong-v0", {"grayscale": True}, 4),
    "dmc walker-walk": ("dreamer_sb3/dmc-walker-walk-v0", {}, 2),
    "dmc cartpole-swingup": ("dreamer_sb3/dmc-cartpole-swingup-v0", {}, 2),
    "dmc quadruped-walk": ("dreamer_sb3/dmc-quadruped-walk-v0", {}, 2),
    "crafter": ("dreamer_sb3/crafter-v0", {}, 1),
    "minecraft stand-in (diamond)": ("dreamer_sb3/minecraft-standin-diamond-v0", {}, 1),
    "CartPole pixels": ("dreamer_sb3/CartPole-pixels-v0", {}, 1),
    "Pendulum pixels": ("dreamer_sb3/Pendulum-pixels-v0", {}, 1),
}


def measure(make_env: Callable[[], gym.Env], steps: int = 1000, seed: int = 0) -> tuple[int, float, float, int]:
    """Step an env with random actions and time it.

    :param make_env: creates the env
    :param steps: agent steps to time
    :param seed: seed of the env and of the action sampler
    :return: ``(steps, wall-clock seconds, CPU seconds, finished episodes)``
    """
    env = make_env()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    episodes = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            env.reset()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    env.close()
    return steps, seconds, cpu_seconds, episodes


def run(names: Sequence[str] | None = None, steps: int = 1000) -> list[Measurement | str]:
    """Measure the presets.

    :param names: preset names (``None``: all of :data:`PRESETS`)
    :param steps: agent steps per preset
    :return: measurements, or ``"<name>: skipped (<reason>)"`` strings for presets that cannot be created
    """
    import dreamer_sb3.wrappers  # noqa: F401  (registers the ids)

    results: list[Measurement | str] = []
    for name in names or list(PRESETS):
        env_id, kwargs, frames = PRESETS[name]
        try:
            n, seconds, cpu_seconds, episodes = measure(lambda env_id=env_id, kwargs=kwargs: gym.make(env_id, **kwargs), steps)
        except ImportError as e:
            results.append(f"{name}: skipped ({e})")
            continue
        results.append(Measurement(name, env_id, n, seconds, cpu_seconds, frames, episodes))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Print the throughput table (Markdown) and optionally write JSON.

    :param argv: command-line arguments
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="agent steps per preset")
    parser.add_argument("--only", nargs="*", choices=list(PRESETS), help="presets to measure")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    results = run(args.only, args.steps)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {args.steps} steps each")
    print("| preset | id | agent steps/s | env frames/s | agent steps per CPU-s |")
    print("| --- | --- | ---: | ---: | ---: |")
    rows = []
    for r in results:
        if isinstance(r, str):
            print(f"| {r} | | | | |")
            continue
        print(
            f"| {r.name} | `{r.env_id}` | {r.steps_per_second:,.0f} | {r.frames_per_second:,.0f} "
            f"| {r.steps_per_cpu_second:,.0f} |"
        )
        rows.append(
            {
                **asdict(r),
                "steps_per_second": r.steps_per_second,
                "frames_per_second": r.frames_per_second,
                "steps_per_cpu_second": r.steps_per_cpu_second,
            }
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
