"""``python -m reports``: outputs, summary values, speedups, self-contained HTML, bad input, no jax.

The fixture results (tests/fixtures/results/: a CPU-only laptop and a GPU box with
cpu:0 + gpu:0) come from tests/fixtures/make_fixtures.py. One full report is made in a
subprocess with jax, jaxlib and esperf's bench/envs/strategies made unimportable; the
other tests read its outputs or call the CLI in-process on bad input (fast: it fails
before any plotting).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import plots, render, tables
from reports import report as report_command
from reports.exit_status import BadInput
from reports.load import load
from results_format.version import SCHEMA_VERSION
import helpers
from helpers import ROOT


FIXTURES = ROOT / "tests" / "fixtures" / "results"
BLOCKED = ("jax", "jaxlib", "bench", "envs", "strategies")
PLOTS = [p.name for p in plots.PLOTS]
CPU_PEAK = 1e11


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "tests" / "fixtures" / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _benchmarks():
    for f in sorted(FIXTURES.glob("*.json")):
        data = json.loads(f.read_text())
        for b in data["benchmarks"]:
            yield data["machine_info"]["hostname"], b


# Runs ``python -m reports ARGS`` with the blocked packages unimportable, then names any that got loaded.
NO_JAX = textwrap.dedent(
    """
    import importlib.abc, runpy, sys
    BLOCKED = {blocked!r}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked by the test: {{name}}", name=name)
            return None
    sys.meta_path.insert(0, Block())
    sys.argv = ["reports", *{args!r}]
    try:
        runpy.run_module("reports", run_name="__main__", alter_sys=True)
    finally:
        print("LOADED:", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED), file=sys.stderr)
    """
)


def run_no_jax(args, cwd):
    env = helpers.child_env(MPLBACKEND="Agg")
    code = NO_JAX.format(blocked=set(BLOCKED), args=[str(a) for a in args])
    return helpers.run([sys.executable, "-c", code], cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One full report of the fixtures, made without jax; returns (process, output folder)."""
    work = tmp_path_factory.mktemp("report")
    out = work / "out"
    proc = run_no_jax([FIXTURES, "--out", out, "--peak-flops", f"cpu={CPU_PEAK:g}"], cwd=work)
    return proc, out


@pytest.fixture(scope="module")
def summary(report):
    proc, out = report
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pd.read_csv(out / "summary.csv")


def _row(summary, host, device, phase, strategy, pop, evals, part="generation", impl="esperf"):
    m = summary[
        (summary["host"] == host) & (summary["device"] == device) & (summary["phase"] == phase)
        & (summary["strategy"] == strategy) & (summary["popsize"] == pop) & (summary["num_evals"] == evals)
        & (summary["part"] == part) & (summary["impl"] == impl)
    ]
    assert len(m) == 1, (host, device, phase, strategy, pop, evals, part, impl, len(m))
    return m.iloc[0]


# --- fixtures and the no-jax rule -------------------------------------------------------------


def _assert_same(shipped, built, where="$"):
    """Equal JSON values; floats to a relative 1e-9 (the last digits depend on numpy's exp/log)."""
    if isinstance(built, float) and isinstance(shipped, (int, float)) and not isinstance(shipped, bool):
        assert shipped == pytest.approx(built, rel=1e-9, abs=0), where
    elif isinstance(built, dict):
        assert isinstance(shipped, dict) and list(shipped) == list(built), where
        for k in built:
            _assert_same(shipped[k], built[k], f"{where}.{k}")
    elif isinstance(built, list):
        assert isinstance(shipped, list) and len(shipped) == len(built), where
        for i, (a, b) in enumerate(zip(shipped, built)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert type(shipped) is type(built) and shipped == built, where


def test_shipped_fixtures_equal_their_generator():
    mod = _fixture_module()
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(mod.MACHINES)
    for host in mod.MACHINES:
        shipped = json.loads((FIXTURES / f"{host}.json").read_text())
        _assert_same(shipped, json.loads(mod.text(host)), f"{host}.json (rerun tests/fixtures/make_fixtures.py)")


def test_fixture_comparison_catches_a_changed_value():
    mod = _fixture_module()
    built = json.loads(mod.text("laptop"))
    changed = json.loads(mod.text("laptop"))
    changed["benchmarks"][5]["stats"]["data"][1] *= 1 + 1e-6
    with pytest.raises(AssertionError, match=r"benchmarks\[5\]\.stats\.data\[1\]"):
        _assert_same(changed, built)
    changed = json.loads(mod.text("laptop"))
    changed["benchmarks"][0]["extra_info"]["unroll"] = 2
    with pytest.raises(AssertionError):
        _assert_same(changed, built)


def test_report_runs_with_jax_and_esperf_unimportable(report):
    proc, out = report
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED: []" in proc.stderr
    assert (out / "report.html").is_file()


def test_blocker_does_block(tmp_path):
    # The subprocess harness above must be able to fail: a module importing jax dies under it.
    (tmp_path / "reports_probe.py").write_text("import jax\n")
    env = helpers.child_env()
    env["PYTHONPATH"] += f"{os.pathsep}{tmp_path}"
    code = NO_JAX.format(blocked=set(BLOCKED), args=[]).replace('run_module("reports"', 'run_module("reports_probe"')
    proc = helpers.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode != 0 and "blocked by the test: jax" in proc.stderr


def test_reports_source_imports_no_jax_or_esperf_packages():
    for path in sorted((ROOT / "reports").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in BLOCKED, f"{path.name} imports {name}"


def _reports_module(path: Path) -> str:
    """``reports/plots/style.py`` -> ``plots.style``; a package is its ``__init__`` (``plots``)."""
    parts = list(path.relative_to(ROOT / "reports").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def _reports_import_graph() -> dict[str, set[str]]:
    """reports' modules (``plots`` a package, ``plots.style`` its module) -> the reports modules each
    imports (anywhere in it, also inside functions)."""
    paths = {_reports_module(p): p for p in (ROOT / "reports").rglob("*.py")}

    def module(dotted: str) -> str:  # the longest module (or package) that ``dotted`` names
        while dotted and dotted not in paths:
            dotted = dotted.rpartition(".")[0]
        return dotted

    graph = {}
    for m, path in paths.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {module(a.name[len("reports."):]) for a in node.names if a.name.startswith("reports.")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "reports":
                base = node.module[len("reports."):] if node.module != "reports" else ""
                deps |= {module(f"{base}.{a.name}".lstrip(".")) for a in node.names}
        graph[m] = (deps - {""}) - {m}
    return graph


def test_reports_modules_import_no_circle():
    graph = _reports_import_graph()
    # shared leaves (formatting's seconds are results_format.units', the format's validator results_format.validate)
    assert graph["exit_status"] == graph["commands"] == graph["formatting"] == set() and graph["load"] == {"exit_status"}
    assert {"plots.style", "plots.catalog"} <= graph["plots"] and "tables" in graph["plots.style"]
    assert {"report", "compare"} <= graph["__main__"]
    done: set[str] = set()

    def visit(m, path):
        assert m not in path, f"import circle: {' -> '.join([*path, m])}"
        if m not in done:
            for d in sorted(graph[m]):
                visit(d, [*path, m])
            done.add(m)

    for m in sorted(graph):
        visit(m, [])


# --- outputs ----------------------------------------------------------------------------------


def test_writes_every_output_and_reports_progress(report):
    proc, out = report
    for name in PLOTS:
        for ext in ("png", "svg"):
            assert (out / f"{name}.{ext}").stat().st_size > 5000, f"{name}.{ext}"
    for name in ("summary.csv", "failed.csv", "report.html", "report.md"):
        assert (out / name).stat().st_size > 0, name
    steps = [line for line in proc.stderr.splitlines() if re.match(r"^\[\d+/\d+\] ", line)]
    total = len(PLOTS) + 3
    assert [int(re.match(r"^\[(\d+)/", s).group(1)) for s in steps] == list(range(1, total + 1))
    assert any("runtime_vs_popsize.png" in s for s in steps)
    assert "report.html" in proc.stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")], "staging folder left behind"


def test_pngs_are_high_resolution(report):
    from PIL import Image

    _, out = report
    for name in PLOTS:
        with Image.open(out / f"{name}.png") as im:
            assert im.info["dpi"][0] == pytest.approx(plots.DPI, abs=1)
            assert im.width >= 1000, name


def test_summary_has_one_row_per_benchmark_with_its_values(summary):
    benches = list(_benchmarks())
    assert len(summary) == len(benches) == 89
    for col in ("host", "device_label", "impl", "part", "phase", "strategy", "env", "popsize", "num_evals",
                "median", "iqr", "q1", "q3", "rounds", "env_steps_per_s", "flops_per_s", "pct_of_peak",
                "speedup_vs_cpu", "peak_memory_bytes", "memory_source", "compile_events", "trace_s", "compile_s",
                "compile_s_median", "num_params", "episode_length", "hidden"):
        assert col in summary.columns, col
    for host, b in benches:
        info, st = b["extra_info"], b["stats"]
        r = _row(summary, host, info["device"], info["phase"], info["strategy"], info["popsize"],
                 info["num_evals"], info["part"], info["impl"])
        assert r["median"] == pytest.approx(st["median"], rel=1e-12)
        assert r["rounds"] == st["rounds"]
        q1, q3 = np.percentile(st["data"], [25, 75])
        assert r["iqr"] == pytest.approx(q3 - q1, rel=1e-9)
        # cpu-node has several CPU device sets: their ids are part of the label
        tag = f" [{info['device']}]" if host == "cpu-node" else ""
        assert r["device_label"] == f"{host} / {info['device_kind']}{tag}"
        if info["phase"] == "runtime" and info["env_steps"]:
            assert r["env_steps_per_s"] == pytest.approx(info["env_steps"] / st["median"], rel=1e-9)
        if info["phase"] == "compile":
            assert r["compile_s_median"] == pytest.approx(np.median(info["compile_s"]))
            assert math.isnan(r["env_steps_per_s"])


def test_speedup_over_the_same_machines_cpu(summary):
    # constructed in the fixture: 0.4 s on gpu-box's CPU, 0.01 s on its GPU
    gpu = _row(summary, "gpu-box", "gpu:0", "runtime", "cma_es", 1000, 50)
    assert gpu["speedup_vs_cpu"] == pytest.approx(40.0, rel=1e-12)
    # every GPU row: the gpu-box CPU's median over the GPU's median (never the laptop's CPU)
    for r in summary[(summary["device"] == "gpu:0") & (summary["phase"] == "runtime") & (summary["impl"] == "esperf")].itertuples():
        cpu = _row(summary, "gpu-box", "cpu:0", "runtime", r.strategy, r.popsize, r.num_evals, r.part)
        assert r.speedup_vs_cpu == pytest.approx(cpu["median"] / r.median, rel=1e-12)
    cpus = summary[summary["device_kind"] == "cpu"]
    assert cpus["speedup_vs_cpu"].isna().all()
    assert summary[summary["impl"] == "evosax"]["speedup_vs_cpu"].isna().all()  # no evosax run on the CPU
    assert summary[summary["phase"] == "compile"]["speedup_vs_cpu"].isna().all()


def test_peak_flops_from_json_and_from_the_command_line(summary):
    gpu = _row(summary, "gpu-box", "gpu:0", "runtime", "cma_es", 1000, 50)
    assert gpu["peak_flops"] == 6.7e13  # from extra_info
    assert gpu["pct_of_peak"] == pytest.approx(100 * gpu["flops"] / gpu["median"] / 6.7e13)
    cpu = _row(summary, "laptop", "cpu:0", "runtime", "cma_es", 1000, 50)
    assert cpu["peak_flops"] == CPU_PEAK  # from --peak-flops cpu=...
    assert cpu["pct_of_peak"] == pytest.approx(100 * cpu["flops"] / cpu["median"] / CPU_PEAK)
    no_flops = _row(summary, "laptop", "cpu:0", "runtime", "openai_es", 1000, 50)
    assert math.isnan(no_flops["flops"]) and math.isnan(no_flops["pct_of_peak"])


def test_html_is_self_contained_with_all_tables(report):
    _, out = report
    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""\b(src|href)\s*=\s*["'](?!data:|#)""", page), "reference to a file"
    assert "<link" not in page and "<script" not in page
    assert page.count('src="data:image/png;base64,') == len(PLOTS)
    for text in ("AMD EPYC 7B13", "Intel(R) Core(TM) i7-1165G7", "125.7 GiB", "16 / 32", "0.10.2",
                 "NVIDIA H100 80GB HBM3 (79 GiB allocator pool)", "RESOURCE_EXHAUSTED", "Best device per case", "Failed cases (1)"):
        assert text in page, text


def test_markdown_has_the_tables_and_references_existing_pngs(report):
    _, out = report
    md = (out / "report.md").read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(refs) == sorted(f"{p}.png" for p in PLOTS)
    assert all((out / r).is_file() for r in refs)
    assert "| host | CPU |" in md and "RESOURCE_EXHAUSTED" in md
    best = [line for line in md.splitlines() if line.startswith("| cma_es | Pendulum-v1 | 1000 | 50 | esperf")]
    assert best and "gpu-box / NVIDIA H100 80GB HBM3" in best[0] and "40×" in best[0]


def test_failed_csv_lists_the_failed_case(report):
    _, out = report
    failed = pd.read_csv(out / "failed.csv")
    assert len(failed) == 1
    r = failed.iloc[0]
    assert (r["host"], r["device"], r["strategy"], r["popsize"], r["num_evals"]) == ("gpu-box", "gpu:0", "openai_es", 10000, 50)
    assert "RESOURCE_EXHAUSTED" in r["error"]


# --- in-process: plots without data, labels, pooling -------------------------------------------


def test_plots_without_data_are_skipped_and_noted(tmp_path):
    res = load([FIXTURES / "laptop.json"])  # one CPU, no breakdown, no peak
    s = tables.summary(res)
    style = plots.make_style(s, tables.failed(res))
    assert "CPU" in plots.speedup_vs_cpu(s, style)
    assert "--es-breakdown" in plots.breakdown(s, style)
    assert "--peak-flops" in plots.pct_of_peak_vs_popsize(s, style)
    figs = [render.Figure("speedup_vs_cpu", "c", skipped="no accelerator")]
    render.write_markdown(tmp_path / "r.md", title="t", meta=[], machines=tables.machines(res),
                          best=render.best_table(tables.best_devices(s)), figures=figs, failed=render.failed_table(tables.failed(res)))
    render.write_html(tmp_path / "r.html", tmp_path, title="t", meta=[], machines=tables.machines(res),
                      best=render.best_table(tables.best_devices(s)), figures=figs,
                      failed=render.failed_table(tables.failed(res)), cases=render.cases_table(s))
    assert "skipped `speedup_vs_cpu`: no accelerator" in (tmp_path / "r.md").read_text()
    assert "Skipped <code>speedup_vs_cpu</code>: no accelerator" in (tmp_path / "r.html").read_text()


def test_two_devices_of_one_kind_get_distinct_labels():
    rows = pd.DataFrame({"host": ["h", "h", "h", "g"], "device": ["cpu:0", "cpu:1", "gpu:0", "cpu:0"],
                         "device_kind": ["cpu", "cpu", "H100", "cpu"]})
    assert list(tables.device_labels(rows)) == ["h / cpu [cpu:0]", "h / cpu [cpu:1]", "h / H100", "g / cpu"]


def test_sharded_device_sets_keep_their_spec_in_the_label():
    rows = pd.DataFrame({"host": ["h", "h", "k"], "device": ["gpu:0", "gpu:all", "gpu:all"],
                         "device_kind": ["H100", "H100", "H100"], "num_devices": [1, 8, 8]})
    assert list(tables.device_labels(rows)) == ["h / H100 [gpu:0]", "h / H100 [gpu:all]", "k / H100 [gpu:all]"]


def test_samples_of_one_case_in_two_files_are_pooled(tmp_path):
    shutil.copy(FIXTURES / "laptop.json", tmp_path / "a.json")
    shutil.copy(FIXTURES / "laptop.json", tmp_path / "b.json")
    s = tables.summary(load([tmp_path]))
    one = tables.summary(load([FIXTURES / "laptop.json"]))
    assert len(s) == len(one)
    assert (s["rounds"] == 2 * one["rounds"]).all()
    assert np.allclose(s["median"], one["median"])
    assert (s["files"].str.count(";") == 1).all()


# --- bad input: one line, exit 2, nothing written ----------------------------------------------


def _good():
    return json.loads((FIXTURES / "laptop.json").read_text())


def _drop_phase(d):
    del d["benchmarks"][3]["extra_info"]["phase"]
    return d


NEXT = SCHEMA_VERSION + 1  # a version this reports does not read yet

BAD = {
    "truncated": (lambda: (FIXTURES / "laptop.json").read_text()[:300], "not valid JSON (truncated?"),
    "empty": (lambda: "", "empty file"),
    "not_utf8": (lambda: b"\xff\xfe\x00{".decode("latin-1"), "not valid JSON"),
    "a_list": (lambda: "[1, 2]", "no 'benchmarks' list"),
    "other_json": (lambda: json.dumps({"name": "x"}), "no 'benchmarks' list"),
    "no_phase": (lambda: json.dumps(_drop_phase(_good())), "benchmark #3 'test_generation[compile-cma_es-Pendulum-v1-pop1000-evals50-cpu:0]' has no extra_info.phase"),
    "bad_phase": (lambda: json.dumps(_set(_good(), "phase", "warmup")), "extra_info.phase 'warmup' is not one of"),
    "schema_next": (lambda: json.dumps(_schema(_good(), NEXT)), f"esperf_schema_version {NEXT} is not supported"),
    "no_schema": (lambda: json.dumps(_schema(_good(), None)), "no machine_info.esperf_schema_version"),
    "esperf_schema_next": (lambda: json.dumps({**_good(), "esperf": {"schema_version": NEXT, "failed": []}}),
                           f"esperf.schema_version {NEXT} is not supported"),
    "no_cases": (lambda: json.dumps({**_good(), "benchmarks": [], "esperf": {"schema_version": 1, "failed": []}}), "no benchmark cases at all"),
    "smoke_run": (lambda: json.dumps({**_good(), "benchmarks": [], "esperf": {"schema_version": 1, "run": "smoke",
                                                                            "failed": []}}),
                  "a smoke run (pytest bench --benchmark-disable: each case once, nothing measured)"),
    "bad_samples": (lambda: json.dumps(_samples(_good(), ["x"])), "stats.data holds a value that is not a finite number"),
}


def _set(d, key, value):
    d["benchmarks"][0]["extra_info"][key] = value
    return d


def _schema(d, version):
    if version is None:
        del d["machine_info"]["esperf_schema_version"]
        del d["esperf"]
    else:
        d["machine_info"]["esperf_schema_version"] = version
    return d


def _samples(d, data):
    d["benchmarks"][0]["stats"]["data"] = data
    return d


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    content, problem = BAD[case]
    bad = tmp_path / f"{case}.json"
    text = content()
    bad.write_bytes(text.encode("latin-1") if case == "not_utf8" else text.encode())
    out = tmp_path / "nested" / "out"
    # a good file alongside: still nothing may be written (but no cases is about all inputs together)
    good = [] if case == "no_cases" else [str(FIXTURES / "laptop.json")]
    assert report_command.main([*good, str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert line.startswith(f"reports: {bad}: "), line
    assert problem in line, line
    assert not (tmp_path / "nested").exists()
    assert captured.out == ""


def test_missing_path_and_empty_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert report_command.main([str(tmp_path / "nope.json"), "--out", str(out)]) == 2
    assert "nope.json: no such file or folder" in _one_error_line(capsys.readouterr().err)
    (tmp_path / "empty").mkdir()
    assert report_command.main([str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "empty: no *.json files in this folder" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"benchmarks": [\n  {"name": ')
    proc = helpers.run([sys.executable, "-m", "reports", str(bad), "--out", str(tmp_path / "o")], cwd=ROOT,
                     timeout=120)
    assert proc.returncode == 2
    assert _one_error_line(proc.stderr) == f"reports: {bad}: not valid JSON (truncated? Expecting value: line 2 column 12)"
    assert not (tmp_path / "o").exists()


def test_out_must_not_hold_an_input(tmp_path, capsys):
    res = tmp_path / "results"
    res.mkdir()
    shutil.copy(FIXTURES / "laptop.json", res / "laptop.json")
    for out in (res, tmp_path):
        assert report_command.main([str(res), "--out", str(out)]) == 2
        assert "--out would replace the input file" in _one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in res.iterdir()) == ["laptop.json"]


def test_out_that_is_a_foreign_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert report_command.main([str(FIXTURES / "laptop.json"), "--out", str(out)]) == 2
    assert "other files in it" in _one_error_line(capsys.readouterr().err)
    assert (out / "thesis.tex").read_text() == "precious"


def test_an_internal_error_midway_exits_3_with_one_line_and_leaves_the_earlier_report(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("earlier report")

    def boom(*a, **k):
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr(plots, "save", boom)
    assert report_command.main([str(FIXTURES / "laptop.json"), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    not_progress = "\n".join(line for line in err.splitlines() if not re.match(r"^\[\d+/\d+\] ", line))
    assert helpers.internal_error_line(_one_error_line(not_progress), "RuntimeError") == \
        "reports: internal error: RuntimeError: disk full"
    assert "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert (out / "report.html").read_text() == "earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "staging folder left behind"


def test_unknown_argument_and_bad_peak_flops_are_usage_errors(capsys):
    # one line each, naming the bad value and what is allowed
    for argv, want in ((["--bogus"], "reports: unrecognized arguments: --bogus; options are --help, --out, --peak-flops"),
                       (["--peak-flops", "cpu", str(FIXTURES)], "reports: argument --peak-flops: 'cpu' is not KIND=FLOPS"),
                       (["--peak-flops", "cpu=-1", str(FIXTURES)], "reports: argument --peak-flops: 'cpu=-1' is not KIND=FLOPS")):
        with pytest.raises(SystemExit) as exc:
            report_command.main(argv)
        assert exc.value.code == 2
        line = _one_error_line(capsys.readouterr().err)
        assert line.startswith(want) and line.endswith("(see python -m reports --help)"), line


def test_esperf_against_evosax_table(report, summary):
    from reports import tables

    impls = tables.implementations(summary)
    assert len(impls) > 0 and "evosax_over_esperf" in impls
    for _, r in impls.iterrows():
        ours = summary[(summary["device_label"] == r["device_label"]) & (summary["strategy"] == r["strategy"])
                       & (summary["popsize"] == r["popsize"]) & (summary["num_evals"] == r["num_evals"])
                       & (summary["phase"] == "runtime") & (summary["part"] == "generation")]
        med = dict(zip(ours["impl"], ours["median"]))
        assert r["evosax_over_esperf"] == pytest.approx(med["evosax"] / med["esperf"])
    # the fixtures' evosax is 1.3x slower by construction (one esperf case is set by hand)
    assert (impls["evosax_over_esperf"].round(3) == 1.3).sum() >= 2
    _, out = report
    for page in ((out / "report.md").read_text(), (out / "report.html").read_text()):
        assert "esperf against other implementations" in page and "evosax_over_esperf" in page
    only_esperf = summary[summary["impl"] == "esperf"]
    assert tables.implementations(only_esperf).empty


# --- per-case memory (issue 11) -----------------------------------------------------------------


def test_case_memory_is_peak_minus_baseline(summary):
    mod = _fixture_module()
    with_baseline = summary[summary["baseline_memory_bytes"].notna()]
    assert set(with_baseline["host"]) == {"gpu-box", "cpu-node"}
    for r in with_baseline.itertuples():
        assert r.case_memory_bytes == mod.case_memory(r.platform, r.popsize, r.num_evals), r
    laptop = summary[summary["host"] == "laptop"]
    assert laptop["peak_memory_bytes"].notna().any() and laptop["case_memory_bytes"].isna().all()


def test_memory_table_in_html_and_markdown(report):
    _, out = report
    # gpu-box H100 cma_es pop 1000 evals 50: baseline 1 MiB, case 1.5 * (4e6 + 400 * 50000) B = 34.3 MiB
    want = "| runtime cma_es Pendulum-v1 50 evals | gpu-box / NVIDIA H100 80GB HBM3 | 1000 | 1 MiB | 35.3 MiB | 34.3 MiB | device_memory_stats |"
    md = (out / "report.md").read_text()
    assert want in md
    assert "| runtime cma_es Pendulum-v1 50 evals | laptop / cpu | 1000 |  |" in md  # no baseline: blank
    page = (out / "report.html").read_text()
    assert "Memory per case" in page and "<td>34.3 MiB</td>" in page


def test_memory_and_scaling_plots_are_skipped_without_data():
    res = load([FIXTURES / "laptop.json"])  # peaks but no baseline; single devices only
    s = tables.summary(res)
    style = plots.make_style(s, tables.failed(res))
    assert "baseline_memory_bytes" in plots.memory_vs_popsize(s, style)
    assert "strong-scaling" in plots.scaling_strong(s, style)
    assert "weak-scaling" in plots.scaling_weak(s, style)
    assert tables.scaling(s).empty


# --- scaling (issue 12) -------------------------------------------------------------------------


def test_scaling_speedup_and_efficiency(summary):
    mod = _fixture_module()
    sc = tables.scaling(summary)
    for mode, eff in (("strong", mod.STRONG_EFFICIENCY), ("weak", mod.WEAK_EFFICIENCY)):
        rows = sc[sc["mode"] == mode]
        assert list(rows["num_devices"]) == [1, 2, 4]
        assert list(rows["device"]) == ["cpu:0", "cpu:0+1", "cpu:all"]
        assert rows["efficiency"].tolist() == pytest.approx([eff[n] for n in (1, 2, 4)], rel=1e-9)
        assert rows["speedup"].tolist() == pytest.approx([n * eff[n] for n in (1, 2, 4)], rel=1e-9)
        assert rows["ref_env_steps_per_s"].tolist() == pytest.approx([mod.SCALING_RATE] * 3, rel=1e-9)
    assert list(sc[sc["mode"] == "strong"]["popsize"]) == [1000] * 3
    assert list(sc[sc["mode"] == "weak"]["popsize"]) == [200, 400, 800]


def test_scaling_table_in_html_and_markdown(report):
    _, out = report
    md = (out / "report.md").read_text()
    assert "| strong | cma_es Pendulum-v1 10 evals · pop 1000 | cpu-node / cpu [cpu:all] | 4 | 1000 | 60 M | 3× | 75% |" in md
    assert "| weak | cma_es Pendulum-v1 10 evals · 200 per device | cpu-node / cpu [cpu:0+1] | 2 | 400 | 38 M | 1.9× | 95% |" in md
    assert "Scaling over devices" in (out / "report.html").read_text()


def test_a_measurement_in_both_series_counts_in_both(tmp_path):
    # the same case on 4 devices written once as strong, once as weak: pooled, and in both series
    data = json.loads((FIXTURES / "cpu-node.json").read_text())
    strong4 = next(b for b in data["benchmarks"] if b["extra_info"]["scaling"] == "strong" and b["extra_info"]["num_devices"] == 4)
    twin = json.loads(json.dumps(strong4))
    twin["extra_info"].update(scaling="weak", popsize_per_device=250)
    single = next(b for b in data["benchmarks"] if b["extra_info"]["scaling"] == "weak" and b["extra_info"]["num_devices"] == 1)
    ref = json.loads(json.dumps(single))
    ref["extra_info"].update(popsize=250, popsize_per_device=250)
    ref["extra_info"]["env_steps"] = 250 * 10 * 200
    data["benchmarks"] += [twin, ref]
    (tmp_path / "n.json").write_text(json.dumps(data))
    s = tables.summary(load([tmp_path]))
    pooled = s[(s["device"] == "cpu:all") & (s["popsize"] == 1000)]
    assert len(pooled) == 1 and pooled.iloc[0]["scaling"] == "strong,weak"
    assert pooled.iloc[0]["rounds"] == 2 * strong4["stats"]["rounds"]
    sc = tables.scaling(s)
    weak250 = sc[(sc["mode"] == "weak") & (sc["series_popsize"] == 250)]
    assert list(weak250["num_devices"]) == [1, 4]
    assert sc[sc["mode"] == "strong"]["num_devices"].tolist() == [1, 2, 4]


def test_old_rows_default_unroll_and_num_devices(tmp_path):
    # rows written before unroll / pop_chunk_setting / num_devices existed (schema version 1) pool with
    # rows that say their defaults (results_format.identity.CASE_DEFAULTS)
    data = json.loads((FIXTURES / "laptop.json").read_text())
    data["machine_info"]["esperf_schema_version"] = data["esperf"]["schema_version"] = 1
    for b in data["benchmarks"]:
        for key in ("unroll", "pop_chunk_setting", "num_devices"):
            del b["extra_info"][key]
    (tmp_path / "old.json").write_text(json.dumps(data))
    new = json.loads((FIXTURES / "laptop.json").read_text())
    for b in new["benchmarks"]:
        b["extra_info"]["num_devices"] = 1
    (tmp_path / "new.json").write_text(json.dumps(new))
    s = tables.summary(load([tmp_path]))
    one = tables.summary(load([FIXTURES / "laptop.json"]))
    assert len(s) == len(one) and (s["rounds"] == 2 * one["rounds"]).all()
    assert (s["unroll"] == 1).all() and (s["num_devices"] == 1).all() and (s["pop_chunk_setting"] == "auto").all()
    # the same rows as version 2 must say them
    data["machine_info"]["esperf_schema_version"] = data["esperf"]["schema_version"] = 2
    (tmp_path / "old.json").write_text(json.dumps(data))
    with pytest.raises(BadInput, match=r"old.json: benchmark #0 .* has no extra_info.num_devices \(and 71 more problems\)"):
        load([tmp_path])


# --- a real pytest bench JSON, and the data the plots draw -----------------------------------

REAL = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"  # `pytest bench` on this VM, 4 cases


def test_a_real_pytest_bench_json_makes_a_report_and_compares_with_itself(tmp_path, capsys):
    import statistics

    from reports import compare as compare_command

    data = json.loads(REAL.read_text())
    assert report_command.main([str(REAL), "--out", str(tmp_path / "out")]) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert len(summary) == len(data["benchmarks"]) == 4
    for b in data["benchmarks"]:
        info = b["extra_info"]
        row = summary[(summary["phase"] == info["phase"]) & (summary["strategy"] == info["strategy"])
                      & (summary["popsize"] == info["popsize"])]
        assert len(row) == 1, b["name"]
        assert row["median"].iloc[0] == pytest.approx(statistics.median(b["stats"]["data"]), rel=1e-12)
    capsys.readouterr()
    assert compare_command.main([str(REAL), str(REAL)]) == 0
    assert "0 slower, 0 faster, 4 unchanged" in capsys.readouterr().out


def _drawn_points(fig) -> set[tuple[float, float]]:
    """Every (x, y) point the figure's lines draw, rounded to 12 significant digits."""
    points = set()
    for ax in fig.axes:
        for line in ax.get_lines():
            for x, y in line.get_xydata():
                if np.isfinite(x) and np.isfinite(y):
                    points.add((float(f"{x:.12g}"), float(f"{y:.12g}")))
    return points


@pytest.mark.parametrize("plot, phase", [("runtime_vs_popsize", "runtime"), ("compile_vs_popsize", "compile")])
def test_plots_draw_the_median_of_every_case(plot, phase):
    """The lines go through (popsize, median seconds) of each case of the input, and nowhere else."""
    import matplotlib.pyplot as plt

    res = load([FIXTURES / "laptop.json"])
    s = tables.summary(res)
    fig = getattr(plots, plot)(s, plots.make_style(s, tables.failed(res)))
    try:
        cases = s[(s["phase"] == phase) & (s["part"] == "generation")]
        want = {(float(f"{p:.12g}"), float(f"{m:.12g}")) for p, m in zip(cases["popsize"], cases["median"])}
        assert len(want) >= 3
        assert _drawn_points(fig) == want
    finally:
        plt.close(fig)
