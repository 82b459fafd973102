"""Energy of runtime figures (``extra_info.energy_j``, ``energy_source``, ``energy_unavailable``,
``env_steps_per_joule``, ``device_state``): the summary columns, the energy table, the env steps
per joule plot, the one "not measured" note, and reports of files without the keys left as they
were. Inputs: copies of the real ``pytest bench`` JSON (tests/fixtures/real/vm-small.json) edited here.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from reports import energy, plots, stability, tables
from reports.load import load
from helpers import REAL_FIXTURE as REAL, real_fixture as real, report_each, with_popsizes
from helpers import write_json as write

NO_RAPL = "no RAPL counters in /sys/class/powercap"
JOULES = {16: 0.5, 32: 0.8, 64: 2.0}  # cma_es energy per generation by popsize
STEPS = 640  # env steps of one generation of every case of the fixture
PLOT = "env_steps_per_joule_vs_popsize"
GPU_AFTER = {"sm_clock_mhz": 1755, "mem_clock_mhz": 2619, "temperature_c": 61, "power_w": 412.5,
             "throttle_reasons": []}


def runtime_rows(data: dict) -> list[dict]:
    return [b for b in data["benchmarks"] if b["extra_info"]["phase"] == "runtime"]



def measured(data: dict) -> dict:
    """cma_es runtime rows with RAPL energy (:data:`JOULES`), pop16 with a GPU's device state of two
    workers as bench writes it; openai_es without energy (:data:`NO_RAPL`)."""
    for b in runtime_rows(data):
        info = b["extra_info"]
        if info["strategy"] == "cma_es":
            j = JOULES[info["popsize"]]
            info.update(energy_j=j, energy_source="rapl", env_steps_per_joule=STEPS / j)
            if info["popsize"] == 16:
                state = {"before": [dict(GPU_AFTER, sm_clock_mhz=1980, temperature_c=40)], "after": [GPU_AFTER]}
                info.update(device_state=[state, {"before": [], "after": [dict(GPU_AFTER, sm_clock_mhz=1)]}],
                            throttle_reasons=[])
        else:
            info.update(energy_j=None, energy_source=None, energy_unavailable=NO_RAPL)
    return data


def unmeasured(data: dict, reasons=(NO_RAPL,)) -> dict:
    """Every runtime row without energy, the i-th giving ``reasons[i % len(reasons)]``."""
    for i, b in enumerate(runtime_rows(data)):
        b["extra_info"].update(energy_j=None, energy_source=None, energy_unavailable=reasons[i % len(reasons)])
    return data


def _tables_only(text: str) -> str:
    """A page without its embedded images, the 'Generated ...' line (time stamp) and the input's folder."""
    text = re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', text)
    text = re.sub(r"/in/[a-z]+/", "/in/INPUT/", text)
    return "\n".join(ln for ln in text.splitlines() if "Generated " not in ln)


# --- the keys ----------------------------------------------------------------------------------

def test_energy_values_reasons_and_device_state_are_read_in_one_place():
    assert energy.COLUMNS == ("energy_j", "env_steps_per_joule", "energy_source")
    assert energy.is_known(0.5) and energy.is_known(np.float64(2.0)) and energy.is_known(np.int64(3))
    for value in (None, float("nan"), 0.0, -1.0, float("inf"), True, "0.5"):
        assert not energy.is_known(value), value
    assert energy.distinct([NO_RAPL, float("nan"), "a; b", NO_RAPL, ""]) == [NO_RAPL, "a", "b"]
    assert energy.not_measured([NO_RAPL]) == f"Energy: not measured on any machine ({NO_RAPL})"
    assert energy.not_measured(["a", "b"], 2, ["vm / cpu"]) == (
        "Energy: not measured for 2 other runtime case(s) on vm / cpu (a; b)")
    one = {"before": [], "after": [GPU_AFTER, dict(GPU_AFTER, sm_clock_mhz=5)]}
    assert energy.state_after(one) == {"sm_clock_mhz": 1755.0, "temperature_c": 61.0}  # the first GPU
    assert energy.state_after([None, one]) == energy.state_after(json.dumps([one])) == energy.state_after(one)
    for missing in (None, float("nan"), "not json", [], {"after": []}, {"before": [GPU_AFTER]}):
        assert energy.state_after(missing) == {}, missing
    assert energy.describe("rapl") == energy.SOURCES["rapl"] and energy.describe("other") == "other"


# --- the report --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of: the fixture (popsizes 16/32/64) with energy on the cma_es rows ("measured"), with
    no energy and two reasons ("none"), and without the keys at all ("old"). {name: (terminal
    messages, output folder)}."""
    work = tmp_path_factory.mktemp("watts")  # a folder name the pages' checks do not match
    inputs = {"measured": measured(with_popsizes(real())),
              "none": unmeasured(with_popsizes(real()), (NO_RAPL, "NVML did not start (Uninitialized)")),
              "old": with_popsizes(real())}
    return report_each(work, inputs)


def test_summary_csv_has_the_energy_columns_empty_where_absent(reports):
    _, out = reports["measured"]
    s = pd.read_csv(out / "summary.csv", keep_default_na=False)
    cols = list(s.columns)
    assert cols[cols.index("speedup_vs_cpu") + 1:cols.index("speedup_vs_cpu") + 4] == list(energy.COLUMNS)
    got = {(r.phase, r.strategy, r.popsize): (r.energy_j, r.env_steps_per_joule, r.energy_source)
           for r in s.itertuples()}
    expected = {("runtime", "cma_es", p): (j, STEPS / j, "rapl") for p, j in JOULES.items()}
    expected.update({("runtime", "openai_es", 16): ("", "", ""), ("compile", "cma_es", 16): ("", "", ""),
                     ("compile", "openai_es", 16): ("", "", "")})
    assert set(got) == set(expected)
    for key, (j, per_j, source) in expected.items():
        if j == "":
            assert got[key] == ("", "", ""), key
        else:
            assert float(got[key][0]) == pytest.approx(j) and float(got[key][1]) == pytest.approx(per_j), key
            assert got[key][2] == source, key
    for name in ("none",):  # the keys but no energy anywhere: the columns, every cell empty
        s = pd.read_csv(reports[name][1] / "summary.csv", keep_default_na=False)
        assert all(s[c].eq("").all() for c in energy.COLUMNS), name


def _plots_drawn(messages: str) -> int:
    return int(re.search(r"summary\.csv and (\d+) plots", messages).group(1))


def test_energy_table_lists_the_cases_with_energy_and_the_rest_in_one_note(reports):
    messages, out = reports["measured"]
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    heading = f"## {energy.HEADING} (3)"
    assert md.count(heading) == 1 and md.index(heading) < md.index("## Plots")
    section = md[md.index(heading):md.index("## Plots")]
    assert energy.EXPLAIN in section and f"- `rapl`: {energy.SOURCES['rapl']}" in section
    assert energy.SOURCES["nvml"] not in section  # only the sources that occur are explained
    head = [ln for ln in section.splitlines() if ln.startswith("| device |")]
    assert head == ["| device | strategy | env | popsize | evals | energy / generation | env steps / J | source "
                    "| SM clock after [MHz] | temperature after [°C] |"]
    rows = [ln for ln in section.splitlines() if ln.startswith("| vm / cpu |")]
    assert rows == [
        "| vm / cpu | cma_es | Pendulum-v1 | 16 | 2 | 0.5 J | 1.28 k | rapl | 1755 | 61 |",  # first worker, GPU
        "| vm / cpu | cma_es | Pendulum-v1 | 32 | 2 | 0.8 J | 800 | rapl |  |  |",
        "| vm / cpu | cma_es | Pendulum-v1 | 64 | 2 | 2 J | 320 | rapl |  |  |",
    ]
    note = f"Energy: not measured for 1 other runtime case(s) on vm / cpu ({NO_RAPL})"
    assert md.count(energy.NOT_MEASURED) == 1 and note in section
    assert page.count(energy.NOT_MEASURED) == 1 and f'<p class="note">{note}</p>' in page
    assert f'<h2 id="energy">{energy.HEADING} (3)</h2>' in page
    assert page.index('<h2 id="energy">') < page.index("<h2>Plots</h2>")
    assert f"![{plots.OPTIONAL_PLOTS[0].caption}]({PLOT}.png)" in md
    assert f'<figure id="{PLOT}">' in page
    for ext in ("png", "svg"):
        assert (out / f"{PLOT}.{ext}").stat().st_size > 5000
    assert len(messages.splitlines()) == 1 and _plots_drawn(messages) == _plots_drawn(reports["old"][0]) + 1


def test_no_energy_anywhere_gives_one_note_with_the_reasons_and_no_table_or_plot(reports):
    messages, out = reports["none"]
    note = f"Energy: not measured on any machine ({NO_RAPL}; NVML did not start (Uninitialized))"
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert md.count(energy.NOT_MEASURED) == 1 and f"\n{note}\n" in md
    assert page.count(energy.NOT_MEASURED) == 1 and f'<p class="note">{note}</p>' in page
    for text in (md, _tables_only(page)):
        assert energy.HEADING not in text and PLOT not in text and "env steps / J" not in text
    assert not list(out.glob(f"{PLOT}.*"))
    assert "nergy" not in messages


def test_a_file_without_the_keys_gives_the_report_it_always_gave(reports):
    messages, out = reports["old"]
    md = (out / "report.md").read_text(encoding="utf-8")
    page = _tables_only((out / "report.html").read_text(encoding="utf-8"))
    for text in (md, page, messages, (out / "summary.csv").read_text()):
        assert "nergy" not in text and "joule" not in text and "env steps / J" not in text
    assert not list(out.glob(f"{PLOT}.*"))
    # every plot is the one it always was: the fixed list, drawn or noted as skipped, and no other
    stems = {p.stem for p in out.glob("*.png")}
    skipped = set(re.findall(r"- skipped `([a-z_]+)`", md))
    assert stems | skipped == {p.name for p in plots.PLOTS} and not stems & skipped
    assert [s.name for s in plots.plots_for(tables.summary(load([REAL])))] == [p.name for p in plots.PLOTS]
    # and the tables are those of a report whose files only say why energy is missing, minus the note
    none_md = (reports["none"][1] / "report.md").read_text(encoding="utf-8")
    without_note = "\n".join(ln for ln in none_md.splitlines() if not ln.startswith(energy.NOT_MEASURED))
    def squeezed(text: str) -> str:  # the note's line and its blank line gone: blank runs as one
        return re.sub(r"\n\n+", "\n\n", _tables_only(text)).strip()
    assert squeezed(without_note) == squeezed(md)


def test_old_summary_has_no_energy_columns_and_unchanged_values(tmp_path):
    s = tables.summary(load([REAL]))
    assert not set(energy.COLUMNS) & set(s.columns)
    assert tables.energy_cases(s).empty and tables.energy_note(s) == ""
    # energy_j null without a reason: no energy, no note, the other columns as they were
    data = real()
    for b in runtime_rows(data):
        b["extra_info"].update(energy_j=None, energy_source=None)
    other = tables.summary(load([write(tmp_path / "vm.json", data)]))
    assert other[list(energy.COLUMNS)].isna().all().all() and tables.energy_note(other) == ""
    shared = [c for c in s.columns if c != "files"]
    pd.testing.assert_frame_equal(s[shared], other[shared])


def test_pooled_files_of_a_case_weight_their_energy_by_rounds(tmp_path):
    a, b, c = real(), real(), unmeasured(real())
    for data, joules in ((a, 1.0), (b, 4.0)):
        for row in runtime_rows(data):
            row["extra_info"].update(energy_j=joules, energy_source="nvml" if joules > 2 else "rapl")
    rows_b = runtime_rows(b)
    for row in rows_b:  # the second file's rounds: three times as many
        row["stats"]["data"] = row["stats"]["data"] * 3
    files = [write(tmp_path / n / "vm.json", d) for n, d in (("a", a), ("b", b), ("c", c))]
    s = tables.summary(load(files))
    runtime = s[s["phase"].eq("runtime")].set_index("strategy")
    assert runtime["energy_j"].tolist() == pytest.approx([(1.0 + 3 * 4.0) / 4] * 2)
    assert runtime["env_steps_per_joule"].tolist() == pytest.approx([STEPS / 3.25] * 2)
    assert runtime["energy_source"].tolist() == ["rapl; nvml"] * 2
    assert runtime["energy_unavailable"].isna().all()  # measured in some run: nothing to explain
    assert tables.energy_note(s) == ""
    only_c = tables.summary(load([files[2]]))
    assert tables.energy_note(only_c) == f"Energy: not measured on any machine ({NO_RAPL})"


# --- the plot ----------------------------------------------------------------------------------

def _points(xy) -> set[tuple[float, float]]:
    return {(float(f"{x:.12g}"), float(f"{y:.12g}")) for x, y in xy}


def test_plot_draws_exactly_the_cases_with_energy_unstable_ones_hollow(tmp_path):
    import matplotlib.pyplot as plt

    data = measured(with_popsizes(real()))
    for b in runtime_rows(data):
        info = b["extra_info"]
        info["unstable"] = ["throttled"] if (info["strategy"], info["popsize"]) == ("cma_es", 32) else []
    res = load([write(tmp_path / "vm.json", data)])
    s = tables.summary(res)
    assert plots.has_energy(s)
    assert [p.name for p in plots.plots_for(s)].index(PLOT) == [p.name for p in plots.PLOTS].index(
        "env_steps_vs_popsize") + 1
    fig = plots.env_steps_per_joule_vs_popsize(s, plots.make_style(s, tables.failed(res)))
    try:
        assert not isinstance(fig, str)
        drawn, filled, hollow = set(), set(), set()
        for ax in fig.axes:
            assert not ax.collections  # one energy reading per case: no IQR band
            for line in ax.get_lines():
                xy = line.get_xydata()
                if line.get_gid() == plots.UNSTABLE_GID:
                    assert line.get_markerfacecolor() == "white"
                    hollow |= _points(xy)
                    continue
                drawn |= _points(xy)
                every = line.get_markevery()
                mask = np.ones(len(xy), dtype=bool) if every is None else np.asarray(every, dtype=bool)
                filled |= _points(xy[mask])
        point = {p: (float(p), float(f"{STEPS / j:.12g}")) for p, j in JOULES.items()}
        assert drawn == set(point.values())  # openai_es has no energy: no line
        assert hollow == {point[32]} and filled == {point[16], point[64]}
        labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        assert any(t.startswith("hollow: unstable figure") and stability.HEADING in t for t in labels)
        assert "counter: rapl" in fig._suptitle.get_text()
        assert fig.axes[0].get_ylabel() == "env steps / J"
    finally:
        plt.close(fig)


def test_plot_is_not_made_without_energy(tmp_path):
    for data in (unmeasured(real()), real()):
        s = tables.summary(load([write(tmp_path / "vm.json", data)]))
        assert not plots.has_energy(s) and PLOT not in [p.name for p in plots.plots_for(s)]
