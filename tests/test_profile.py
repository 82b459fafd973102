"""``--es-profile DIR``: one trace per runtime case, taken after its timed rounds."""
from __future__ import annotations

import pytest

from bench.plugin.options import parse_run_options
from helpers import TINY, grid_options, run_bench

pytestmark = pytest.mark.integration  # every test here runs `pytest bench` in a subprocess


def test_one_perfetto_trace_per_runtime_case_and_none_for_compile_cases(tmp_path):
    traces = tmp_path / "traces"
    proc, data = run_bench(tmp_path, *TINY, "--es-pops", "8,16", "--es-runtime-workers", "2",
                           "--es-devices", "cpu:0", "--es-profile", str(traces))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runtime = [b for b in data["benchmarks"] if b["extra_info"]["phase"] == "runtime"]
    assert len(runtime) == 2
    for row in runtime:
        x = row["extra_info"]
        case_id = row["name"][len("test_generation["):-1]
        assert x["profile_dir"] == str(traces / case_id) and x["profile_rounds"] == 3
        assert len(list((traces / case_id).rglob("perfetto_trace.json.gz"))) == 1  # the first worker's only
        assert x["executions"] == 3 + 2 * 2  # the profiled rounds are not among the state's executions
    assert sorted(p.name for p in traces.iterdir()) == sorted(b["name"][16:-1] for b in runtime)
    assert all("profile_dir" not in b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["phase"] == "compile")


def test_a_profile_dir_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"--es-profile: '.*f' is not allowed; give a folder"):
        parse_run_options(grid_options(es_profile=str(tmp_path / "f")), False)
    assert parse_run_options(grid_options(es_profile="rel"), False).settings.profile_dir.endswith("/rel")
    assert parse_run_options(grid_options(), False).settings.profile_dir is None
