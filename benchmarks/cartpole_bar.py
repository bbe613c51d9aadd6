"""Issue 12's CartPole bar, read from ``python -m dreamer_sb3.zoo.benchmark`` output folders.

The bar: from the first evaluation >= 475 to the end of the run, no evaluation below 450, on every seed.
For each folder (one setting, its DreamerV3 runs under ``runs/``) this prints one row per seed (first
evaluation >= 475, the lowest evaluation after it, the evaluations < 450 after it, the final one), writes the rows
as JSON and plots the settings side by side, one panel per seed.

Usage::

    python benchmarks/cartpole_bar.py benchmarks/results/issue12_cartpole entry \\
        benchmarks/results/issue12_cartpole_alr3e-5 "actor lr 3e-5" -o docs/img/issue12_cartpole_variants
"""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any

#: evaluations at or above this mark the policy as solved; after that none may fall below ``HOLD``
SOLVED, HOLD = 475.0, 450.0


def bar_row(run: dict[str, Any]) -> dict[str, Any]:
    """The bar's measures of one run's evaluation curve."""
    curve = run["curve"]
    first = next((i for i, e in enumerate(curve) if e["mean"] >= SOLVED), None)
    after = curve[first:] if first is not None else []
    below = [(int(e["steps"]), round(e["mean"], 1)) for e in after if e["mean"] < HOLD]
    return {
        "seed": run["seed"],
        "first_solved": None if first is None else int(curve[first]["steps"]),
        "lowest_after": None if not after else round(min(e["mean"] for e in after), 1),
        "below_hold_after": below,
        "final": round(curve[-1]["mean"], 1),
        "train_cpu_seconds": round(run["train_cpu_seconds"]),
        "passes": first is not None and not below,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="FOLDER LABEL [FOLDER LABEL ...]")
    parser.add_argument("-o", "--output", help="write OUTPUT.json and OUTPUT.png")
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error("give a label after every folder")
    settings: dict[str, list[dict[str, Any]]] = {}
    print("| setting | seed | first eval >= 475 | lowest after | evals < 450 after (steps, return) | final | bar |")
    print("|---|---|---|---|---|---|---|")
    for folder, label in zip(args.pairs[::2], args.pairs[1::2]):
        runs = [json.loads(f.read_text()) for f in sorted(pathlib.Path(folder, "runs").glob("dreamerv3_*.json"))]
        if not runs:
            raise SystemExit(f"{folder}/runs holds no dreamerv3_*.json: is it a zoo.benchmark output folder?")
        settings[label] = runs
        for run in runs:
            r = bar_row(run)
            below = ", ".join(f"{s:,}: {v:g}" for s, v in r["below_hold_after"]) or "none"
            print(
                f"| {label} | {r['seed']} | {r['first_solved']} | {r['lowest_after']} | {below} | {r['final']:g} "
                f"| {'holds' if r['passes'] else 'fails'} |"
            )
    if args.output:
        out = pathlib.Path(args.output)
        rows = {label: [bar_row(r) for r in runs] for label, runs in settings.items()}
        out.with_suffix(".json").write_text(json.dumps({"solved": SOLVED, "hold": HOLD, "settings": rows}, indent=1))
        _plot(settings, out.with_suffix(".png"))
        print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


def _plot(settings: dict[str, list[dict[str, Any]]], path: pathlib.Path) -> Any:
    """Draw the settings' curves, one panel per seed, into ``path``; returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = sorted({r["seed"] for runs in settings.values() for r in runs})
    # one colour per setting in every panel (settings may have run different numbers of seeds)
    # (tab10 up to ten settings, tab20 beyond: no two settings share a colour)
    cmap, n = (plt.get_cmap("tab10"), 10) if len(settings) <= 10 else (plt.get_cmap("tab20"), 20)
    colours = {label: cmap(i % n) for i, label in enumerate(settings)}
    fig, axes = plt.subplots(1, len(seeds), figsize=(4.5 * len(seeds), 3.4), sharey=True, squeeze=False)
    for ax, seed in zip(axes[0], seeds):
        for label, runs in settings.items():
            for run in (r for r in runs if r["seed"] == seed):
                steps = [e["steps"] for e in run["curve"]]
                ax.plot(steps, [e["mean"] for e in run["curve"]], marker=".", label=label, color=colours[label])
        ax.axhline(HOLD, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"seed {seed}")
        ax.set_xlabel("env steps")
    axes[0][0].set_ylabel("evaluation return (10 episodes)")
    panel = max(axes[0], key=lambda ax: len(ax.get_lines()))  # the legend goes where every setting has a line
    panel.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return fig


if __name__ == "__main__":
    main()
