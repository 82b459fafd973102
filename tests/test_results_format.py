"""The results format (``results_format``): one typed definition, the JSON Schema generated from
it, and the standard-library validator ``reports`` applies, checked against each other and against
what ``pytest bench`` really writes.

``jsonschema`` (the ``test`` extra) is the reference reader of the published schema: a file it
accepts, ``results_format.validate.problems`` accepts, and the other way round.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import sys

import jsonschema
import pytest

import helpers
from helpers import ROOT, TINY, run_bench
from bench.case import PARAMS, Case
from results_format import files, rows
from results_format.identity import CASE_DEFAULTS, CASE_FIELDS
from results_format.json_schema import SCHEMA_PATH, schema, text
from results_format.keys import field_map, fields
from results_format.validate import MISSING, problems
from results_format.version import SCHEMA_VERSION, SUPPORTED_VERSIONS

FIXTURES = ROOT / "tests" / "fixtures"
REFERENCE = sorted((ROOT / "results" / "reference").rglob("*.json"))
SHIPPED = sorted((FIXTURES / "results").glob("*.json")) + sorted((FIXTURES / "real").glob("*.json"))
VALIDATOR = jsonschema.Draft202012Validator(schema())


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def schema_errors(data) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)]


def both_accept(data) -> bool:
    """Whether jsonschema and the standard-library validator agree that ``data`` is good (asserts
    they agree at all)."""
    by_schema, by_us = schema_errors(data), [p.text() for p in problems(data)]
    assert bool(by_schema) == bool(by_us), (by_schema[:3], by_us[:3])
    return not by_us


# -- one definition ----------------------------------------------------------------------------

def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == text(), "run python -m results_format"
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    proc = helpers.run([sys.executable, "-m", "results_format", "--check"], timeout=120, cwd=ROOT,
                       env=helpers.child_env())
    assert proc.returncode == 0, proc.stderr


def test_check_exits_1_on_a_stale_schema(tmp_path, monkeypatch, capsys):
    from results_format import __main__ as cli

    stale = tmp_path / "schema.json"
    stale.write_text(text().replace("esperf results file", "an old results file"), encoding="utf-8")
    monkeypatch.setattr(cli, "SCHEMA_PATH", stale)
    assert cli.main(["--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert cli.main([]) == 0 and stale.read_text(encoding="utf-8") == text()  # regenerated
    assert cli.main(["--check"]) == 0


def test_the_case_settings_are_one_record_the_writer_builds():
    case = Case("runtime", "cma_es", "Pendulum-v1", 8, 2, 4, 5, "cpu:0", unroll=4, pop_chunk="16", isolation="none")
    assert list(case.fields()) == list(field_map(rows.CaseSettings))  # the same keys, in the same order
    assert set(CASE_FIELDS) <= set(case.fields()) and set(CASE_DEFAULTS) <= set(CASE_FIELDS)
    assert list(case.params()) == list(PARAMS) == list(field_map(files.Params))
    assert case.fields()["unroll"] == case.params()["unroll"] == 4
    assert not problems_of_record(case.fields(), rows.CaseSettings)


def problems_of_record(value, record):
    from results_format.validate import _record_problems

    return _record_problems(value, record, SCHEMA_VERSION, "", "")


def test_the_format_is_standard_library_only():
    """Both sides import it: the pytest process must not load pandas through it, reports not jax."""
    import ast

    for path in sorted((ROOT / "results_format").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                assert top == "results_format" or top in sys.stdlib_module_names or top == "__future__", \
                    f"{path.name} imports {name}"


def test_each_row_is_the_union_of_its_records_without_a_key_twice():
    for phase, records in rows.ROW_RECORDS.items():
        names = [f.name for r in records for f in fields(r)]
        assert len(names) == len(set(names)), phase
        assert names == [f.name for f in fields(rows.ROWS[phase])], phase
    assert set(rows.ROWS) == set(rows.PHASES)
    for record in (*rows.RECORDS, files.Stats, files.Params, files.Benchmark, files.MachineInfo, files.ResultsFile):
        for f in fields(record):
            assert f.key.meaning.strip(), f"{record.__name__}.{f.name} has no meaning"
            assert f.key.since in SUPPORTED_VERSIONS, f


def test_the_esperf_block_is_built_from_the_format():
    block = files.esperf_block("measured", [])
    assert block == {"schema_version": SCHEMA_VERSION, "run": "measured", "failed": []}
    with pytest.raises(ValueError, match="'partly' is not one of measured, smoke"):
        files.esperf_block("partly", [])


# -- the files the tests and the reference keep ---------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED + REFERENCE, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_is_valid(path):
    data = json.loads(path.read_text())
    assert schema_errors(data) == []
    assert problems(data) == []


def test_the_fixtures_are_the_writers_shape_of_this_version():
    mod = _fixture_module()
    for path in sorted((FIXTURES / "results").glob("*.json")):
        data = json.loads(path.read_text())
        assert data["esperf"]["schema_version"] == data["machine_info"]["esperf_schema_version"] == SCHEMA_VERSION
        for b in data["benchmarks"]:
            assert set(b["params"]) == set(PARAMS)
            assert {"unroll", "pop_chunk_setting", "isolation"} <= set(b["extra_info"])
    assert both_accept(_rounded(mod.build_whole_cpu()))


def _rounded(data):
    return json.loads(json.dumps(data))


# -- what a broken file looks like ------------------------------------------------------------------

def _good() -> dict:
    return json.loads((FIXTURES / "results" / "gpu-box.json").read_text())


def _row_of(data, phase):
    return next(b for b in data["benchmarks"] if b["extra_info"]["phase"] == phase and b["extra_info"]["impl"] == "esperf")


@pytest.mark.parametrize("phase", rows.PHASES)
def test_each_required_key_removed_fails_both_readers_naming_it(phase):
    for f in fields(rows.ROWS[phase]):
        data = _good()
        row = _row_of(data, phase)
        if f.name not in row["extra_info"]:
            assert not f.required, f.name
            continue
        del row["extra_info"][f.name]
        if f.required:
            assert not both_accept(data), f.name
            (p,) = problems(data)
            assert (p.case, p.key) == (f"benchmark #{data['benchmarks'].index(row)} {row['name']!r}",
                                       f"extra_info.{f.name}")
            assert p.what.startswith(MISSING)
        else:
            assert both_accept(data), f.name


WRONG = [  # (phase, key, value, what the line says)
    ("runtime", "unroll", "4", "extra_info.unroll '4' is not an integer >= 1"),
    ("runtime", "unroll", 0, "extra_info.unroll 0 is not an integer >= 1"),
    ("compile", "isolation", "thread", "extra_info.isolation 'thread' is not one of process, none"),
    ("compile", "pop_chunk_setting", 16, "extra_info.pop_chunk_setting 16 is not a string (auto, off or digits)"),
    ("runtime", "pop_chunk_setting", "some", "is not a string (auto, off or digits)"),
    ("runtime", "worker_medians", [0.1, "x"], "extra_info.worker_medians [0.1, 'x'] is not a list of numbers >= 0"),
    ("runtime", "unstable", "iqr", "extra_info.unstable 'iqr' is not a list of reason strings"),
    ("runtime", "compile_events", [], "extra_info.compile_events [] is not an integer >= 0"),
    ("compile", "compile_events", 0, "extra_info.compile_events 0 is not a list of objects"),
    ("runtime", "energy_j", "1 J", "extra_info.energy_j '1 J' is not a number >= 0 or null"),
    ("runtime", "popsize", True, "extra_info.popsize True is not an integer >= 1"),
]


@pytest.mark.parametrize("phase, key, value, line", WRONG, ids=[f"{w[1]}={w[2]!r}" for w in WRONG])
def test_a_key_of_the_wrong_type_fails_both_readers(phase, key, value, line):
    data = _good()
    _row_of(data, phase)["extra_info"][key] = value
    assert not both_accept(data)
    assert line in problems(data)[0].text()


def test_an_integral_float_is_an_integer_as_json_schema_reads_it():
    data = _good()
    _row_of(data, "runtime")["extra_info"]["unroll"] = 4.0
    data["esperf"]["schema_version"] = float(SCHEMA_VERSION)
    assert both_accept(data)
    data["esperf"]["schema_version"] = True  # a boolean is no number, in an enum too
    assert not both_accept(data)


def test_nested_records_and_the_file_level_keys():
    data = _good()
    del data["machine_info"]["hostname"]
    data["esperf"]["failed"][0]["extra_info"]["hidden"] = "48"
    del _row_of(data, "runtime")["params"]["unroll"]
    assert not both_accept(data)
    assert [p.text() for p in problems(data)][:3] == [
        "no machine_info.hostname",
        "esperf.failed[0].extra_info.hidden '48' is not an integer >= 1",
        f"benchmark #{data['benchmarks'].index(_row_of(data, 'runtime'))} "
        f"{_row_of(data, 'runtime')['name']!r} has no params.unroll",
    ]


def test_version_1_files_read_without_the_version_2_keys():
    v1 = json.loads((FIXTURES / "real" / "vm-small.json").read_text())
    assert v1["esperf"]["schema_version"] == 1 and both_accept(v1)
    assert all("unroll" not in b["extra_info"] for b in v1["benchmarks"])
    # the same row, of version 2, lacks what version 2 requires
    as_v2 = copy.deepcopy(v1)
    as_v2["esperf"]["schema_version"] = as_v2["machine_info"]["esperf_schema_version"] = 2
    assert not both_accept(as_v2)
    assert any(p.key == "extra_info.unroll" and p.what == MISSING for p in problems(as_v2))
    # version 1 still needs what it always needed, and types what it has
    del v1["benchmarks"][0]["extra_info"]["num_evals"]
    assert not both_accept(v1) and problems(v1)[0].key == "extra_info.num_evals"
    v1 = json.loads((FIXTURES / "real" / "vm-small.json").read_text())
    for key in rows.DEVICE_NAMED_BY:
        del v1["benchmarks"][0]["extra_info"][key]
    assert not both_accept(v1) and "extra_info.device_kind" in problems(v1)[0].text()


def test_an_entry_that_is_no_object_is_named():
    data = _good()
    data["benchmarks"][1] = "test_generation[x]"
    assert not both_accept(data)
    assert [p.text() for p in problems(data)] == ["benchmark #1 is not an object"]


def test_an_unsupported_version_fails_both_readers():
    data = _good()
    data["esperf"]["schema_version"] = data["machine_info"]["esperf_schema_version"] = SCHEMA_VERSION + 1
    assert not both_accept(data)
    assert "is not supported" in problems(data)[0].text()


def test_reports_names_the_file_the_case_and_the_key(tmp_path, capsys):
    from reports import report as report_command

    data = _good()
    row = _row_of(data, "runtime")
    del row["extra_info"]["unroll"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert report_command.main([str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"reports: {bad}: benchmark #{data['benchmarks'].index(row)} {row['name']!r} "
                                "has no extra_info.unroll"]
    assert not (tmp_path / "out").exists()


# -- what pytest bench writes -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def unrolled(tmp_path_factory):
    """A tiny real run, compile and runtime, at non-default settings (unroll 2, blocks of 4 members)."""
    proc, data = run_bench(tmp_path_factory.mktemp("unrolled"), *TINY, "--es-devices", "cpu:0", "--es-unroll", "2",
                           "--es-pop-chunk", "4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return data


# pytest-benchmark's own machine_info keys (the rest are esperf's: files.MachineInfo)
PYTEST_BENCHMARK_MACHINE_INFO = {"node", "processor", "machine", "python_compiler", "python_implementation",
                                 "python_implementation_version", "python_version", "python_build", "release",
                                 "system", "cpu"}


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_real_output_is_valid_and_records_every_setting(unrolled):
    assert schema_errors(unrolled) == [] and problems(unrolled) == []
    assert {b["extra_info"]["phase"] for b in unrolled["benchmarks"]} == set(rows.PHASES)
    for b in unrolled["benchmarks"]:
        info = b["extra_info"]
        assert (info["unroll"], info["pop_chunk_setting"], info["isolation"]) == (2, "4", "process")
        assert (b["params"]["unroll"], b["params"]["pop_chunk"], b["params"]["hidden"]) == (2, "4", 4)
        assert info["pop_chunk"] == 4 and info["pop_blocks"] == 2
        for f in fields(rows.ROWS[info["phase"]]):  # every key the writer must write, it wrote
            assert not f.required or f.name in info, f.name
        # and every key it wrote is declared: the definition knows the whole row
        assert set(info) <= set(field_map(rows.ROWS[info["phase"]])), set(info) - set(field_map(rows.ROWS[info["phase"]]))
        assert set(b) <= set(field_map(files.Benchmark)) and set(b["stats"]) <= set(field_map(files.Stats))
    assert set(unrolled) <= set(field_map(files.ResultsFile))
    ours = set(unrolled["machine_info"]) - PYTEST_BENCHMARK_MACHINE_INFO
    assert ours <= set(field_map(files.MachineInfo)), ours - set(field_map(files.MachineInfo))
    assert unrolled["esperf"]["schema_version"] == unrolled["machine_info"]["esperf_schema_version"] == SCHEMA_VERSION


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
def test_real_output_with_a_key_removed_or_mistyped_fails(unrolled):
    for phase in rows.PHASES:
        data = copy.deepcopy(unrolled)
        del _row_of(data, phase)["extra_info"]["isolation"]
        assert not both_accept(data)
        data = copy.deepcopy(unrolled)
        _row_of(data, phase)["extra_info"]["worker_pids"] = "1234"
        assert not both_accept(data)


def test_the_docs_name_every_key_and_link_the_schema():
    doc = (ROOT / "docs" / "results-format.md").read_text(encoding="utf-8")
    records = (*rows.RECORDS, files.Benchmark, files.Params, files.Stats, files.EsperfBlock, files.FailedCase,
               files.MachineInfo)
    for record in records:
        assert f"#### `{record.__name__}`" in doc, record.__name__
        section = doc.split(f"#### `{record.__name__}`", 1)[1].split("#### ", 1)[0]
        lines = {line.split(" | ")[0]: line.split(" | ") for line in section.splitlines() if line.startswith("| `")}
        for f in fields(record):
            row = lines.get(f"| `{f.name}`")
            assert row is not None, f"{record.__name__}.{f.name} is not documented"
            assert row[2] == (f"since {f.key.since}" if f.required else "no"), (record.__name__, row)
    link = "results_format/esperf-results.schema.json"
    assert link in (ROOT / "docs" / "reports.md").read_text(encoding="utf-8") and link in doc
