"""Draw docs/img/throughput_vs_popsize.png: env steps/s vs popsize, before and after, one line per evals.

    python docs/img/throughput_vs_popsize.py BEFORE.json AFTER.json docs/img/throughput_vs_popsize.png

BEFORE/AFTER are ``pytest bench`` JSONs of the same runtime grid (README's performance section
names the commands). matplotlib only; no jax.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curve(path):
    """{evals: [(popsize, env steps/s)]} of the runtime generation rows of one JSON."""
    out = {}
    for row in json.load(open(path))["benchmarks"]:
        e = row["extra_info"]
        if e["phase"] == "runtime" and e["part"] == "generation":
            out.setdefault(e["num_evals"], []).append((e["popsize"], e["env_steps"] / row["stats"]["median"]))
    return {k: sorted(v) for k, v in sorted(out.items())}


def main(before, after, png):
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for (label, path, style) in (("before (1ea34bd)", before, "--"), ("after (pop blocks)", after, "-")):
        for i, (evals, points) in enumerate(curve(path).items()):
            pops, rates = zip(*points)
            ax.plot(pops, [r / 1e6 for r in rates], style, marker="o", color=f"C{i}",
                    label=f"{evals} evals, {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("population size")
    ax.set_ylabel("env steps / s (millions)")
    ax.set_title("cma_es, Pendulum-v1, 200 steps, MLP 3-48-1, cpu:0 (2-core EPYC VM)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    # outside the axes (no point hidden), long handles so dashed reads as dashed
    ax.legend(fontsize=7, handlelength=3.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:4])
