#!/usr/bin/env python3
"""Draw a benchmark's figures (the JSON its script writes beside its text report) as a PNG.

    scripts/bench_plot.py bench/results/scale-<stamp>.json [--output OUT.png]

Writes OUT.png (default: the JSON's path with .png) and prints its path. The JSON's
``bench`` says which script wrote it and so what is drawn:

  site_first_run  bench/site_first_run.sh: bars of the first run and of each idempotent
                  run per strategy, the apt floor as a line;
                  {"floor_s": 37.2, "packages": 20,
                   "strategies": {"mitogen_linear": {"first_s": 75.6, "first_changed": 60,
                                                     "idempotent_s": [9.1, 10.8]}, ...}}
  idempotent      bench/idempotent.sh: bars of each run per strategy, the medians as lines;
                  {"strategies": {"linear": [48.5, 48.0], "mitogen_linear": [16.5, 16.5]}}
  scale           bench/scale.sh: wall time (median and each run) and the controller's CPU
                  time against the number of app hosts, per strategy, and the first converge;
                  {"sizes": [{"app_hosts": 1, "converge_s": 73, "runs": {"linear":
                     [{"wall_s": 39.9, "controller_s": 18.1, "nodes_s": 15.3}], ...}}, ...]}

Every kind may also have "title", "machine" and "command" (drawn as the figure's title).
Needs matplotlib (requirements.txt), Agg backend. Exit status: 0 written, 2 bad input.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

COLOURS = {"mitogen_linear": "#0072b2", "linear": "#e69f00"}
OTHER_COLOURS = ("#009e73", "#cc79a7", "#56b4e9", "#d55e00")
LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}
NAMES = {"mitogen_linear": "mitogen_linear", "linear": "plain linear"}  # as in the reports


class BenchError(Exception):
    """Bad input: exit 2."""


def colour(strategy: str, index: int) -> str:
    return COLOURS.get(strategy, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def name(strategy: str) -> str:
    return NAMES.get(strategy, strategy)


def seconds_list(value, where: str) -> list[float]:
    if not isinstance(value, list) or not value:
        raise BenchError(f"{where}: expected a non-empty list of seconds")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise BenchError(f"{where}: {item!r} is not a number of seconds")
        out.append(float(item))
    return out


def seconds_value(value, where: str) -> float:
    return seconds_list([value], where)[0]


def strategies_of(data: dict) -> dict:
    strategies = data.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise BenchError("no strategies in the figures")
    return strategies


def new_figure(data: dict, heading: str, size=(12, 5.6)) -> Figure:
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    lines = [str(data.get("title") or heading)]
    small = " | ".join(str(data[k]) for k in ("machine", "command") if data.get(k))
    fig.suptitle("\n".join(lines), fontsize=12, fontweight="bold")
    if small:
        fig.supxlabel(small, fontsize=8, color="#555")
    return fig


def legend(ax) -> None:
    """The legend right of the plot, where it covers nothing."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)


def label_bars(ax, bars, fmt: str = "{:.1f}") -> None:
    ax.bar_label(
        bars,
        labels=[fmt.format(b.get_height()) for b in bars],
        padding=2,
        fontsize=8,
        bbox=LABEL_BOX,
    )


def plot_site_first_run(data: dict) -> Figure:
    strategies = strategies_of(data)
    floor = seconds_value(data.get("floor_s"), "floor_s")
    rows = {}
    for strategy, info in strategies.items():
        if not isinstance(info, dict):
            raise BenchError(f"strategies.{strategy}: expected an object")
        rows[strategy] = (
            seconds_value(info.get("first_s"), f"strategies.{strategy}.first_s"),
            seconds_list(info.get("idempotent_s"), f"strategies.{strategy}.idempotent_s"),
        )
    repeats = max(len(again) for _, again in rows.values())
    groups = ["first run"] + [f"idempotent run {i + 1}" for i in range(repeats)]
    fig = new_figure(data, "site.yml on a fresh all-in-one host")
    ax = fig.subplots()
    width = 0.8 / len(rows)
    for i, (strategy, (first, again)) in enumerate(rows.items()):
        xs = [g + (i - (len(rows) - 1) / 2) * width for g in range(len(groups))]
        values = [first, *again]
        bars = ax.bar(
            xs[: len(values)], values, width * 0.95, color=colour(strategy, i), label=name(strategy)
        )
        labels = [f"{first:.1f} s\n{first / floor:.2f}x floor"] + [f"{v:.1f} s" for v in again]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=8, bbox=LABEL_BOX)
    packages = data.get("packages")
    what = f" ({packages} packages)" if packages is not None else ""
    ax.axhline(floor, color="#d7191c", ls="--", lw=1.5, label=f"apt floor{what}: {floor:.1f} s")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("wall time (s)")
    ax.set_ylim(0, max(max(first, *again) for first, again in rows.values()) * 1.18)
    ax.set_title(
        "first site.yml run against the apt floor, then idempotent runs (changed=0)",
        loc="left",
        fontsize=10,
    )
    legend(ax)
    ax.grid(axis="y", color="#ddd")
    ax.set_axisbelow(True)
    return fig


def plot_idempotent(data: dict) -> Figure:
    runs = {s: seconds_list(v, f"strategies.{s}") for s, v in strategies_of(data).items()}
    repeats = max(len(v) for v in runs.values())
    fig = new_figure(data, "idempotent site.yml")
    ax = fig.subplots()
    width = 0.8 / len(runs)
    medians = {}
    for i, (strategy, values) in enumerate(runs.items()):
        xs = [r + (i - (len(runs) - 1) / 2) * width for r in range(len(values))]
        medians[strategy] = statistics.median(values)
        bars = ax.bar(
            xs,
            values,
            width * 0.95,
            color=colour(strategy, i),
            label=f"{name(strategy)}: median {medians[strategy]:.1f} s",
        )
        label_bars(ax, bars)
        ax.axhline(medians[strategy], color=colour(strategy, i), ls="--", lw=1)
    ax.set_xticks(range(repeats), [f"run {r + 1}" for r in range(repeats)])
    ax.set_ylabel("wall time (s)")
    ax.set_ylim(0, max(max(v) for v in runs.values()) * 1.15)
    title = "idempotent runs, alternated, every one changed=0"
    if "linear" in medians and "mitogen_linear" in medians:
        title += f"; speed-up {medians['linear'] / medians['mitogen_linear']:.1f}x"
    ax.set_title(title, loc="left", fontsize=10)
    legend(ax)
    ax.grid(axis="y", color="#ddd")
    ax.set_axisbelow(True)
    return fig


def plot_scale(data: dict) -> Figure:
    sizes = data.get("sizes")
    if not isinstance(sizes, list) or not sizes:
        raise BenchError("no sizes in the figures")
    hosts, converge = [], []
    per_strategy: dict[str, dict[str, list]] = {}
    for i, size in enumerate(sizes):
        if not isinstance(size, dict) or not isinstance(size.get("runs"), dict):
            raise BenchError(f"sizes[{i}]: expected an object with runs")
        n = seconds_value(size.get("app_hosts"), f"sizes[{i}].app_hosts")
        hosts.append(n)
        converge.append(size.get("converge_s"))
        for strategy, runs in size["runs"].items():
            if not isinstance(runs, list) or not runs:
                raise BenchError(f"sizes[{i}].runs.{strategy}: expected a list of runs")
            walls = [seconds_value(r.get("wall_s"), f"sizes[{i}] wall_s") for r in runs]
            cpus = [
                r.get("controller_s")
                for r in runs
                if isinstance(r.get("controller_s"), int | float)
            ]
            row = per_strategy.setdefault(strategy, {"n": [], "walls": [], "cpu": []})
            row["n"].append(n)
            row["walls"].append(walls)
            row["cpu"].append(statistics.median(cpus) if cpus else None)
    fig = new_figure(data, "idempotent site.yml by number of app hosts")
    ax = fig.subplots()
    top = 0.0
    for i, (strategy, row) in enumerate(per_strategy.items()):
        c = colour(strategy, i)
        medians = [statistics.median(w) for w in row["walls"]]
        top = max(top, *(max(w) for w in row["walls"]))
        ax.plot(row["n"], medians, "-o", color=c, lw=2, label=f"{name(strategy)}: wall (median)")
        for n, walls in zip(row["n"], row["walls"], strict=True):
            if len(walls) > 1:
                ax.plot([n] * len(walls), walls, ".", color=c, alpha=0.6)
        for n, m in zip(row["n"], medians, strict=True):
            ax.annotate(
                f"{m:.1f} s",
                (n, m),
                textcoords="offset points",
                xytext=(-7, 7),
                ha="right",
                fontsize=8,
                color=c,
                bbox=LABEL_BOX,
            )
        cpu = [(n, v) for n, v in zip(row["n"], row["cpu"], strict=True) if v is not None]
        if cpu:
            ax.plot(
                *zip(*cpu, strict=True),
                ":",
                marker="x",
                color=c,
                lw=1.3,
                label=f"{name(strategy)}: controller CPU (median)",
            )
    conv = [(n, c) for n, c in zip(hosts, converge, strict=True) if isinstance(c, int | float)]
    if conv:
        ax.plot(
            *zip(*conv, strict=True),
            "--s",
            color="#777",
            lw=1.2,
            ms=5,
            label="first converge (site.yml, ansible.cfg's strategy)",
        )
        top = max(top, *(c for _, c in conv))
    ax.set_xticks(sorted(set(hosts)))
    ax.margins(x=0.08)
    ax.set_xlabel("app hosts (besides one web host and one db+cache host)")
    ax.set_ylabel("seconds")
    ax.set_ylim(0, top * 1.12)
    ax.set_title(
        "idempotent runs (changed=0): wall time and controller CPU time", loc="left", fontsize=10
    )
    legend(ax)
    ax.grid(color="#ddd")
    ax.set_axisbelow(True)
    return fig


PLOTS = {"site_first_run": plot_site_first_run, "idempotent": plot_idempotent, "scale": plot_scale}


def render(data: dict) -> bytes:
    kind = data.get("bench")
    if kind not in PLOTS:
        raise BenchError(f"unknown bench {kind!r}: expected one of {', '.join(PLOTS)}")
    fig = PLOTS[kind](data)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw a benchmark's figures JSON as a PNG.")
    parser.add_argument("figures", help="the JSON a bench/ script wrote beside its report")
    parser.add_argument("--output", help="the PNG to write (default: FIGURES with .png)")
    args = parser.parse_args(argv)
    output = args.output or os.path.splitext(args.figures)[0] + ".png"
    try:
        try:
            with open(args.figures, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise BenchError(f"cannot read {args.figures}: {exc}") from None
        if not isinstance(data, dict):
            raise BenchError(f"{args.figures} is not a JSON object")
        png = render(data)
    except BenchError as exc:
        print(f"bench_plot: error: {exc}", file=sys.stderr)
        return 2
    tmp = f"{output}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(png)
        os.replace(tmp, output)
    except OSError as exc:
        print(f"bench_plot: error: cannot write {output}: {exc}", file=sys.stderr)
        return 2
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
