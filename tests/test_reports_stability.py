"""Unstable runtime figures (``extra_info.unstable``) and per-worker rounds (``extra_info.worker_rounds``):
the report's ``unstable`` column, hollow plot markers and note, ``reports compare``'s unstable lines,
and the two-stage (worker, then round) bootstrap of its interval. Inputs: copies of the real
``pytest bench`` JSON (tests/fixtures/real/vm-small.json) edited here.
"""
from __future__ import annotations

import copy
import html
import re

import numpy as np
import pandas as pd
import pytest

from reports import compare as compare_command
from reports import plots, stability, tables
from reports import report as report_command
from reports.load import load
from helpers import REAL_FIXTURE as REAL, real_fixture as real, report_each, set_samples, with_popsizes
from helpers import write_json as write

SHAKY = ["spread", "iqr"]  # as bench might list them; the report orders them as REASONS does


def runtime_rows(data: dict) -> dict[str, dict]:
    """The runtime benchmark entries of ``data`` by strategy (the fixture has one per strategy)."""
    return {b["extra_info"]["strategy"]: b for b in data["benchmarks"] if b["extra_info"]["phase"] == "runtime"}




def marked(data: dict, unstable: dict[tuple[str, int], list[str]]) -> dict:
    """``data`` with ``extra_info.unstable`` on every runtime row: the reasons ``unstable`` gives its
    (strategy, popsize), ``[]`` for the others."""
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if info["phase"] == "runtime":
            info["unstable"] = list(unstable.get((info["strategy"], info["popsize"]), []))
    return data


def slower(data: dict, factor: float) -> dict:
    """``data`` with every runtime round ``factor`` times longer."""
    for b in runtime_rows(data).values():
        set_samples(b, np.asarray(b["stats"]["data"]) * factor)
    return data


# --- the reasons -------------------------------------------------------------------------------

def test_reasons_are_read_ordered_and_explained_in_one_place():
    assert set(stability.REASONS) == {"iqr", "spread", "rounds", "workers", "throttled"}
    assert stability.reasons(["throttled", "iqr", "iqr"]) == ["iqr", "throttled"]
    assert stability.reasons('["spread", "iqr"]') == ["iqr", "spread"]  # the JSON text load keeps in a cell
    for missing in (None, float("nan"), [], "[]"):
        assert stability.reasons(missing) == []
    assert stability.reasons(["gremlins", "rounds"]) == ["rounds", "gremlins"]
    assert stability.describe("gremlins") == stability.UNKNOWN
    assert stability.cell(["spread", "iqr"]) == "iqr, spread"
    assert stability.split_cell("iqr, spread") == ["iqr", "spread"]
    assert stability.split_cell(float("nan")) == [] and not stability.is_unstable("")
    assert stability.union(['["spread"]', float("nan"), '["iqr", "spread"]']) == ["iqr", "spread"]
    assert stability.explained(["iqr"]) == f"iqr ({stability.REASONS['iqr']})"


@pytest.mark.parametrize("key, value, problem", [
    ("unstable", "iqr", "extra_info.unstable 'iqr' is not a list of reason strings"),
    ("unstable", [1], "extra_info.unstable [1] is not a list of reason strings"),
    ("worker_rounds", [100, 0], "extra_info.worker_rounds [100, 0] is not a list of integers >= 1"),
    ("worker_rounds", [100, 2.5], "is not a list of integers >= 1"),
    ("worker_rounds", [100, 50], "extra_info.worker_rounds adds up to 150 rounds but stats.data holds 161"),
])
def test_malformed_stability_keys_are_one_line_bad_input(tmp_path, capsys, key, value, problem):
    data = real()
    runtime_rows(data)["cma_es"]["extra_info"][key] = value
    src = write(tmp_path / "in" / "vm.json", data)
    for main, argv in ((report_command.main, [str(src), "--out", str(tmp_path / "out")]),
                       (compare_command.main, [str(src), str(src)])):
        capsys.readouterr()
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and problem in captured.err
    assert not (tmp_path / "out").exists()


# --- the report --------------------------------------------------------------------------------

UNSTABLE = {("cma_es", 32): SHAKY, ("openai_es", 16): ["workers"]}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of: the fixture with popsizes 16/32/64 marked by :data:`UNSTABLE` ("marked"), the same
    with every runtime row stable (``[]``, "stable"), and without the keys at all ("plain").
    {name: (terminal messages, output folder)}."""
    work = tmp_path_factory.mktemp("stability")
    inputs = {"marked": marked(with_popsizes(real()), UNSTABLE), "stable": marked(with_popsizes(real()), {}),
              "plain": with_popsizes(real())}
    return report_each(work, inputs)


def _tables_only(text: str) -> str:
    """A page without its embedded images, the 'Generated ...' line (time stamp) and the input's folder."""
    text = re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', text)
    text = re.sub(r"/in/(stable|plain|marked)/", "/in/INPUT/", text)
    return "\n".join(ln for ln in text.splitlines() if "Generated " not in ln)


def test_summary_csv_lists_the_reasons_of_unstable_cases(reports):
    _, out = reports["marked"]
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    got = {(r.phase, r.strategy, r.popsize): r.unstable for r in s.itertuples()}
    assert got == {("runtime", "cma_es", 16): "", ("runtime", "cma_es", 32): "iqr, spread",
                   ("runtime", "cma_es", 64): "", ("runtime", "openai_es", 16): "workers",
                   ("compile", "cma_es", 16): "", ("compile", "openai_es", 16): ""}
    cols = list(s.columns)
    assert cols.index("unstable") == cols.index("rounds") + 1


def test_report_tables_and_note_show_the_reasons(reports):
    messages, out = reports["marked"]
    page = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    for text, esc in ((page, html.escape), (md, str)):
        assert f"{stability.HEADING} (2)" in text and esc(stability.EXPLAIN) in text
        for reason in ("iqr", "spread", "workers"):
            assert esc(stability.REASONS[reason]) in text, reason
        for reason in ("rounds", "throttled"):  # the note explains the reasons that occur
            assert esc(stability.REASONS[reason]) not in text, reason
    # the note comes before the plots whose hollow markers it explains
    assert page.index(f"{stability.HEADING} (2)") < page.index("<h2>Plots</h2>")
    assert md.index(f"## {stability.HEADING} (2)") < md.index("## Plots")
    # the markdown's unstable table: one row per unstable case, with its reasons
    section = md[md.index(f"## {stability.HEADING}"):md.index("## Plots")]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and ln.rstrip().endswith(("| iqr, spread |",
                                                                                         "| workers |"))]
    assert len(rows) == 2 and "| 32 |" in rows[0] and "cma_es" in rows[0] and "openai_es" in rows[1]
    # the all-cases table of the html has the column, with the reasons in the cells
    cases = page[page.index("<h2>All cases"):]
    assert "<th>unstable</th>" in cases
    assert cases.count("<td>iqr, spread</td>") == 1 and cases.count("<td>workers</td>") == 1
    assert "2 unstable runtime figure(s)" in messages.splitlines()[-1]


def test_no_note_and_no_column_when_nothing_is_unstable(reports):
    for name in ("stable", "plain"):
        messages, out = reports[name]
        page = (out / "report.html").read_text(encoding="utf-8")
        md = (out / "report.md").read_text(encoding="utf-8")
        for text in (_tables_only(page), md, messages):
            assert stability.HEADING not in text and "unstable" not in text, name
        assert len(messages.splitlines()) == 1
    # stable and unknown read alike: the pages are the same, apart from the input paths
    for page in ("report.html", "report.md"):
        texts = [_tables_only((reports[n][1] / page).read_text(encoding="utf-8")) for n in ("stable", "plain")]
        assert texts[0] == texts[1], page


def test_a_file_without_the_keys_gives_the_report_it_always_gave(tmp_path):
    s = tables.summary(load([REAL]))
    assert "unstable" not in s.columns
    assert tables.unstable(s).empty
    data = real()
    for b in runtime_rows(data).values():  # the new keys but unstable: bench's other fields change nothing
        b["extra_info"].update(worker_medians=[float(np.median(b["stats"]["data"]))],
                               worker_rounds=[len(b["stats"]["data"])], runtime_workers=1, first_run_s=[0.01])
    other = tables.summary(load([write(tmp_path / "vm.json", data)]))
    assert "unstable" not in other.columns
    shared = [c for c in s.columns if c != "files"]
    pd.testing.assert_frame_equal(s[shared], other[shared])


def test_pooled_files_of_a_case_are_unstable_where_any_run_was(tmp_path):
    a = write(tmp_path / "a" / "vm.json", marked(real(), {("cma_es", 16): ["iqr"]}))
    b = write(tmp_path / "b" / "vm.json", marked(real(), {("cma_es", 16): ["throttled"]}))
    c = real()  # a file of a case that predates the key: nothing known, nothing added
    s = tables.summary(load([a, b, write(tmp_path / "c" / "vm.json", c)]))
    runtime = s[s["phase"].eq("runtime")].set_index("strategy")["unstable"]
    assert runtime.to_dict() == {"cma_es": "iqr, throttled", "openai_es": ""}


def _points(line) -> set[tuple[float, float]]:
    return {(float(f"{x:.12g}"), float(f"{y:.12g}")) for x, y in line.get_xydata()}


def _markers(fig) -> tuple[set, set, set]:
    """(every point drawn by a line, the points with a filled marker, the points with a hollow one)."""
    drawn, filled, hollow = set(), set(), set()
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_gid() == plots.UNSTABLE_GID:
                assert line.get_linestyle() == "None" and line.get_markerfacecolor() == "white"
                hollow |= _points(line)
                continue
            xy = line.get_xydata()
            drawn |= _points(line)
            every = line.get_markevery()
            mask = np.ones(len(xy), dtype=bool) if every is None else np.asarray(every, dtype=bool)
            if line.get_marker() not in (None, "None", ""):
                filled |= {(float(f"{x:.12g}"), float(f"{y:.12g}")) for x, y in xy[mask]}
    return drawn, filled, hollow


@pytest.mark.parametrize("plot, y", [("runtime_vs_popsize", "median"), ("env_steps_vs_popsize", "env_steps_per_s")])
def test_plots_draw_unstable_cases_hollow_and_every_other_case_filled(tmp_path, plot, y):
    import matplotlib.pyplot as plt

    res = load([write(tmp_path / "vm.json", marked(with_popsizes(real()), UNSTABLE))])
    s = tables.summary(res)
    fig = getattr(plots, plot)(s, plots.make_style(s, tables.failed(res)))
    try:
        runtime = s[s["phase"].eq("runtime")]
        point = {(r.strategy, r.popsize): (float(f"{r.popsize:.12g}"), float(f"{getattr(r, y):.12g}"))
                 for r in runtime.itertuples()}
        drawn, filled, hollow = _markers(fig)
        assert drawn == set(point.values())  # the lines still go through every case
        assert hollow == {point[k] for k in UNSTABLE}
        assert filled == set(point.values()) - hollow
        labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        assert any(t.startswith("hollow: unstable figure") for t in labels)
    finally:
        plt.close(fig)


def test_plots_of_stable_or_plain_inputs_and_compile_plots_have_no_hollow_marker(tmp_path):
    import matplotlib.pyplot as plt

    for name, data in (("stable", marked(with_popsizes(real()), {})), ("plain", with_popsizes(real())),
                       ("marked", marked(with_popsizes(real()), UNSTABLE))):
        res = load([write(tmp_path / name / "vm.json", data)])
        s = tables.summary(res)
        makers = ["compile_vs_popsize"] + ([] if name == "marked" else ["runtime_vs_popsize"])
        for plot in makers:
            fig = getattr(plots, plot)(s, plots.make_style(s, tables.failed(res)))
            try:
                drawn, filled, hollow = _markers(fig)
                assert hollow == set() and filled == drawn and drawn, (name, plot)
                labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
                assert not any("unstable" in t for t in labels)
            finally:
                plt.close(fig)


# --- compare -----------------------------------------------------------------------------------

def _compare(capsys, base, new) -> tuple[int, str]:
    capsys.readouterr()
    code = compare_command.main([str(base), str(new)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("factor, expected", [(1.0, 0), (1.5, 1)])
def test_compare_prints_each_sides_unstable_cases_and_keeps_its_exit_code(tmp_path, capsys, factor, expected):
    sides = {"base": real(), "new": slower(real(), factor)}
    marks = {"base": {("cma_es", 16): ["iqr"]}, "new": {("cma_es", 16): ["throttled", "rounds"],
                                                        ("openai_es", 16): ["workers"]}}
    plain = {k: write(tmp_path / "plain" / k / "vm.json", v) for k, v in sides.items()}
    shaky = {k: write(tmp_path / "shaky" / k / "vm.json", marked(copy.deepcopy(v), marks[k])) for k, v in sides.items()}
    code_plain, out_plain = _compare(capsys, plain["base"], plain["new"])
    code_shaky, out_shaky = _compare(capsys, shaky["base"], shaky["new"])
    assert code_plain == code_shaky == expected
    assert stability.HEADING.lower() not in out_plain and "unstable" not in out_plain
    case = {s: f"runtime {s} Pendulum-v1 pop16 evals2 h48 cpu" for s in ("cma_es", "openai_es")}
    lines = [ln.strip() for ln in out_shaky.splitlines() if re.match(r"  (base|new): ", ln)]
    assert lines == [
        f"base: {case['cma_es']}: iqr ({stability.REASONS['iqr']})",
        f"new: {case['cma_es']}: rounds ({stability.REASONS['rounds']}); throttled ({stability.REASONS['throttled']})",
        f"new: {case['openai_es']}: workers ({stability.REASONS['workers']})",
    ]
    # apart from the header (its paths) and the unstable block, the output is the same
    def body(out: str) -> list[str]:
        return [ln for ln in out.splitlines()[1:] if not re.match(r"(unstable figures \(|  (base|new): )", ln)]
    assert body(out_shaky) == body(out_plain)
    assert out_shaky.splitlines()[-1] == out_plain.splitlines()[-1]  # the summary stays last


def _three_workers(data: dict, scales=(1.0, 1.4, 0.75), clustered=True) -> dict:
    """``data`` whose openai_es runtime rounds come from three workers (297 rounds each) whose
    medians differ widely (the blocks scaled by ``scales``); ``clustered``: with worker_rounds."""
    b = runtime_rows(data)["openai_es"]
    x = np.asarray(b["stats"]["data"])
    blocks = np.split(x, 3)
    set_samples(b, np.concatenate([blk * s for blk, s in zip(blocks, scales)]))
    if clustered:
        b["extra_info"].update(worker_rounds=[len(blk) for blk in blocks], runtime_workers=3,
                               worker_medians=[float(np.median(blk * s)) for blk, s in zip(blocks, scales)])
    return data


def test_compare_of_a_row_with_several_workers_widens_only_its_interval(tmp_path):
    base = compare_command.load_side([str(write(tmp_path / "base" / "vm.json", real()))], "BASE")
    results = {}
    for name, clustered in (("pooled", False), ("workers", True)):
        new = write(tmp_path / name / "vm.json", _three_workers(real(), clustered=clustered))
        df = compare_command.compare(base, compare_command.load_side([str(new)], "NEW"))
        results[name] = df.set_index("case")
    pooled, workers = results["pooled"], results["workers"]
    key = "runtime openai_es Pendulum-v1 pop16 evals2 h48 cpu"
    for col in ("ratio", "p", "verdict", "base_median", "new_median", "n_new"):
        assert pooled[col].tolist() == workers[col].tolist(), col  # the verdict rules do not move
    width = {n: r.loc[key, "ci_high"] - r.loc[key, "ci_low"] for n, r in results.items()}
    assert width["workers"] > 3 * width["pooled"]
    other = [c for c in pooled.index if c != key]
    pd.testing.assert_frame_equal(pooled.loc[other], workers.loc[other])  # other cases: the same interval


# --- the two-stage bootstrap -------------------------------------------------------------------

def _worker_side(rng, medians, n=40, noise=0.01):
    return [m * np.exp(rng.normal(0.0, noise, n)) for m in medians]


@pytest.mark.parametrize("lengths", [(40, 40, 40), (25, 60, 35)])
def test_two_stage_interval_is_wider_when_the_workers_disagree(lengths):
    rng = np.random.default_rng(11)
    base = [1.0 * np.exp(rng.normal(0.0, 0.01, 120))]
    blocks = [m * np.exp(rng.normal(0.0, 0.01, n)) for m, n in zip((1.0, 1.3, 0.8), lengths)]
    new = [np.concatenate(blocks)]
    one = compare_command.ratio_ci(base, new, 0.01, seed=3)
    three = compare_command.ratio_ci(base, new, 0.01, seed=3, new_workers=[list(lengths)])
    assert three[1] - three[0] > 1.5 * (one[1] - one[0])
    # the clustered interval spans the disagreement of the workers (1.3 and 0.8 over 1.0)
    assert three[0] < 0.9 and three[1] > 1.1
    if len(set(lengths)) == 1:  # equal workers: the pooled median sits in the middle one, its interval too
        assert three[1] - three[0] > 5 * (one[1] - one[0]) and 0.9 < one[0] < one[1] < 1.1
    assert compare_command.ratio_ci(base, new, 0.01, seed=3, new_workers=[list(lengths)]) == three  # seeded


def test_two_stage_interval_is_not_wider_when_the_workers_agree():
    # the same rounds in three agreeing workers: the extra stage costs (almost) nothing
    rng = np.random.default_rng(12)
    base = [np.exp(rng.normal(0.0, 0.02, 120))]
    new = [np.exp(rng.normal(0.0, 0.02, 120))]
    one = compare_command.ratio_ci(base, new, 0.01, seed=4)
    three = compare_command.ratio_ci(base, new, 0.01, seed=4, base_workers=[[40, 40, 40]],
                                     new_workers=[[40, 40, 40]])
    assert three[1] - three[0] < 1.5 * (one[1] - one[0])


def test_one_worker_or_no_worker_rounds_give_exactly_the_old_interval():
    rng = np.random.default_rng(13)
    base, new = [np.exp(rng.normal(0.0, 0.03, 50))], [1.1 * np.exp(rng.normal(0.0, 0.03, 60))]
    old = compare_command.ratio_ci(base, new, 0.01, seed=7)
    assert compare_command.ratio_ci(base, new, 0.01, seed=7, base_workers=[[50]], new_workers=[[60]]) == old
    assert compare_command.ratio_ci(base, new, 0.01, seed=7, base_workers=None, new_workers=[[60]]) == old
    assert compare_command.compare_runs(base, new, 0.1, 0.01, seed=7, base_workers=[[50]],
                                        new_workers=[[60]]) == compare_command.compare_runs(base, new, 0.1, 0.01, seed=7)
    # several runs a side: the runs are the clusters, as before, whatever the workers inside them
    runs_b, runs_n = _worker_side(rng, (1.0, 1.05, 0.97)), _worker_side(rng, (1.1, 1.02, 1.08))
    many = compare_command.ratio_ci(runs_b, runs_n, 0.01, seed=8)
    assert compare_command.ratio_ci(runs_b, runs_n, 0.01, seed=8, base_workers=[[20, 20]] * 3,
                                    new_workers=[[10, 30]] * 3) == many


def test_one_worker_rows_in_files_compare_exactly_as_before(tmp_path):
    data = real()
    for b in runtime_rows(data).values():
        b["extra_info"].update(worker_rounds=[len(b["stats"]["data"])], runtime_workers=1,
                               worker_medians=[float(np.median(b["stats"]["data"]))], unstable=[])
    plain = compare_command.load_side([str(REAL)], "BASE")
    one = compare_command.load_side([str(write(tmp_path / "one" / "vm.json", data))], "NEW")
    before = compare_command.compare(plain, compare_command.load_side([str(REAL)], "NEW"))
    after = compare_command.compare(plain, one)
    pd.testing.assert_frame_equal(before, after)
