"""Notices of a machine not fit to be measured: ``machine_info.unused_accelerators``,
``backend_errors`` and ``system_check`` in the report (above its tables, the machines
table's ``warnings`` column) and in ``reports compare`` (without changing its verdict or
exit status). Fixtures: copies of the real ``pytest bench`` JSON (vm-small.json) edited here.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from reports import compare as compare_command
from reports import notices, tables
from reports import report as report_command
from reports.load import load
from helpers import ROOT

REAL = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"
H200 = {"platform": "gpu", "name": "NVIDIA H200", "why": 'jaxlib 0.10.2 is CPU-only; install pip install -e ".[cuda13]"'}
CUDA_ERROR = "CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"
CHECKS = [
    {"check": "cpu.load", "status": "WARN", "detail": "load 3.1 on 2 cores", "fix": "stop the other jobs"},
    {"check": "cpu.governor", "status": "OK", "detail": "performance", "fix": None},
]
NOTICES = [
    'vm: 1 NVIDIA GPU (NVIDIA H200) present but not used by jax: jaxlib 0.10.2 is CPU-only; '
    'install pip install -e ".[cuda13]"',
    f"vm: jax's cuda backend failed to start: {CUDA_ERROR}",
    "vm: 1 system check warning: cpu.load (load 3.1 on 2 cores; fix: stop the other jobs)",
]


def unfit(data: dict) -> dict:
    """``data`` (a pytest bench JSON) as written on a machine with one unused GPU, a failed
    cuda backend and one WARN system check (beside an OK one)."""
    mi = data["machine_info"]
    mi["unused_accelerators"] = [dict(H200)]
    mi["backend_errors"] = {"cuda": CUDA_ERROR}
    mi["system_check"] = [dict(c) for c in CHECKS]
    return data


def slower(data: dict, factor: float = 1.5) -> dict:
    """``data`` with every runtime sample ``factor`` times longer (a regression compare flags)."""
    for b in data["benchmarks"]:
        if b["extra_info"]["phase"] == "runtime":
            b["stats"]["data"] = [x * factor for x in b["stats"]["data"]]
            b["stats"]["median"] = float(np.median(b["stats"]["data"]))
    return data


def write(path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def real() -> dict:
    return json.loads(REAL.read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of the unfit copy and of the unmodified fixture: {name: (stdout, output folder)}."""
    work = tmp_path_factory.mktemp("notices")
    src = write(work / "in" / "vm.json", unfit(real()))
    out = {}
    for name, path in (("unfit", src), ("fit", REAL)):
        folder = work / f"out-{name}"
        messages = report_command.make_report([str(path)], folder, {})
        out[name] = (messages, folder)
    return out


# --- the notices themselves ------------------------------------------------------------------

def test_notices_of_an_unfit_machine(tmp_path):
    res = load([write(tmp_path / "vm.json", unfit(real()))])
    assert notices.notices(res) == NOTICES
    assert notices.by_host(res) == {"vm": [n.split(": ", 1)[1] for n in NOTICES]}


def test_files_without_the_keys_or_with_none_give_no_notice(tmp_path):
    assert notices.notices(load([REAL])) == []
    data = real()
    data["machine_info"].update(unused_accelerators=[], backend_errors={}, system_check=[
        {"check": "cpu.load", "status": "OK", "detail": "idle", "fix": None},
        {"check": "gpu.clocks", "status": "INFO", "detail": "no GPU", "fix": None}])
    assert notices.notices(load([write(tmp_path / "vm.json", data)])) == []


def test_malformed_notice_fields_are_dropped_not_refused(tmp_path):
    data = real()
    data["machine_info"].update(unused_accelerators="gpu", backend_errors=["cuda"], system_check=[1, None])
    assert notices.notices(load([write(tmp_path / "vm.json", data)])) == []


def test_identical_accelerators_are_grouped_and_counted():
    eight = [dict(H200) for _ in range(8)]
    tpu = {"platform": "tpu", "name": "Google TPU", "why": "libtpu is not installed (jaxlib 0.10.2)"}
    assert notices.unused_lines(eight + [tpu]) == [
        f"8 NVIDIA GPUs (NVIDIA H200) present but not used by jax: {H200['why']}",
        "1 TPU chip (Google TPU) present but not used by jax: libtpu is not installed (jaxlib 0.10.2)",
    ]


def test_a_backend_error_quoted_by_the_unused_reason_is_not_repeated():
    quoted = {**H200, "why": f"jax's cuda backend failed to start: {CUDA_ERROR}"}
    assert notices.backend_lines({"cuda": CUDA_ERROR}, [quoted]) == []
    assert notices.backend_lines({"cuda": CUDA_ERROR}, [H200]) == [f"jax's cuda backend failed to start: {CUDA_ERROR}"]


def test_several_warnings_are_counted_in_one_line():
    checks = CHECKS + [{"check": "cpu.governor", "status": "WARN", "detail": "powersave", "fix": None},
                       {"check": "gpu.clocks", "status": "INFO", "detail": "unlocked"}]
    assert notices.check_lines(checks) == [
        "2 system check warnings: cpu.load (load 3.1 on 2 cores; fix: stop the other jobs), cpu.governor (powersave)"]


def test_warnings_cell_counts_each_thing_once_per_host():
    m = {"unused_accelerators": [H200, H200], "backend_errors": {"cuda": CUDA_ERROR}, "system_check": CHECKS}
    # two files of one host say the same: the host still has 2 GPUs, 1 backend, 1 check
    assert notices.warnings_cell([m, m]) == "4: 2× unused NVIDIA H200; cuda failed; cpu.load"
    assert notices.warnings_cell([{"unused_accelerators": [], "backend_errors": {}, "system_check": []}]) == ""


def test_machines_table_gets_a_warnings_column_only_where_a_machine_warned(tmp_path):
    assert "warnings" not in tables.machines(load([REAL]))
    fit = write(tmp_path / "fit" / "other.json", {**real(), "machine_info": {**real()["machine_info"],
                                                                             "hostname": "other", "node": "other"}})
    both = tables.machines(load([write(tmp_path / "unfit" / "vm.json", unfit(real())), fit]))
    assert dict(zip(both["host"], both["warnings"])) == {"vm": "3: unused NVIDIA H200; cuda failed; cpu.load",
                                                          "other": ""}


# --- the report ------------------------------------------------------------------------------

def test_report_html_and_markdown_have_the_notices_above_the_first_table(reports):
    _, out = reports["unfit"]
    html_text = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert 'class="notices"' in html_text and "Notices: this machine was not fit to be measured" in html_text
    first_table = html_text.index("<table")
    for line in NOTICES:
        escaped = line.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#x27;")
        assert -1 < html_text.index(escaped) < first_table, line
    assert "## Notices: this machine was not fit to be measured" in md
    first_md_table = md.index("\n| ")
    for line in NOTICES:
        assert -1 < md.index(f"- {line}") < first_md_table, line


def test_report_machines_table_has_the_warnings_column(reports):
    _, out = reports["unfit"]
    md = (out / "report.md").read_text(encoding="utf-8")
    head = next(line for line in md.splitlines() if line.startswith("| host |"))
    row = next(line for line in md.splitlines() if line.startswith("| vm |"))
    cells = dict(zip([c.strip() for c in head.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["warnings"] == "3: unused NVIDIA H200; cuda failed; cpu.load"
    html_text = (out / "report.html").read_text(encoding="utf-8")
    machines = html_text[html_text.index("<h2>Machines</h2>"):html_text.index("</table>")]
    assert "<th>warnings</th>" in machines
    assert "<td>3: unused NVIDIA H200; cuda failed; cpu.load</td>" in machines


def test_report_terminal_output_has_the_notices(reports):
    messages, _ = reports["unfit"]
    lines = messages.splitlines()
    assert lines[:-1] == [f"reports: notice: {n}" for n in NOTICES]
    assert lines[-1].startswith("reports: wrote ")


def test_a_fit_machine_gets_no_notice_block(reports):
    messages, out = reports["fit"]
    html_text = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    for text in (html_text, md, messages):
        assert "Notices" not in text and "not fit to be measured" not in text and "notice:" not in text
    assert 'class="notices"' not in html_text and "<th>warnings</th>" not in html_text
    assert len(messages.splitlines()) == 1


# --- compare ---------------------------------------------------------------------------------

def _compare(capsys, base, new) -> tuple[int, str]:
    capsys.readouterr()
    code = compare_command.main([str(base), str(new)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("factor, expected", [(1.0, 0), (1.5, 1)])
def test_compare_prints_both_sides_notices_and_keeps_its_verdict_and_exit_code(tmp_path, capsys, factor, expected):
    plain = {side: write(tmp_path / "plain" / side / "vm.json", slower(real(), factor) if side == "new" else real())
             for side in ("base", "new")}
    marked = {side: write(tmp_path / "unfit" / side / "vm.json",
                          unfit(slower(real(), factor) if side == "new" else real())) for side in ("base", "new")}
    code_plain, out_plain = _compare(capsys, plain["base"], plain["new"])
    code_unfit, out_unfit = _compare(capsys, marked["base"], marked["new"])
    assert code_plain == code_unfit == expected
    for side in ("base", "new"):
        for line in NOTICES:
            assert f"{side}: {line}" in out_unfit
    assert "notice" not in out_plain and "not used by jax" not in out_plain
    # apart from the header (its paths) and the notices, the output is the same: table, verdicts, summary
    def body(out: str) -> list[str]:
        return [ln for ln in out.splitlines()[1:] if not re.match(r"(notices \(|  (base|new): )", ln)]
    assert body(out_unfit) == body(out_plain)
    assert out_unfit.splitlines()[-1] == out_plain.splitlines()[-1]


def test_compile_rounds_that_reused_autotuning_are_said_once_in_the_report(tmp_path):
    """``compile_warm_autotune: true`` (in-process rounds on a GPU) is one line in both pages; false or absent, none."""
    import json

    from reports import report as report_command
    from reports import tables
    from reports.load import load

    real = ROOT / "tests" / "fixtures" / "real" / "vm-small.json"
    assert tables.compile_note(tables.summary(load([real]))) == ""  # files without the key
    data = json.loads(real.read_text())
    compile_rows = [b for b in data["benchmarks"] if b["extra_info"]["phase"] == "compile"]
    for b in compile_rows:
        b["extra_info"]["compile_warm_autotune"] = False
    path = tmp_path / "cold.json"
    path.write_text(json.dumps(data))
    assert tables.compile_note(tables.summary(load([path]))) == ""
    compile_rows[0]["extra_info"]["compile_warm_autotune"] = True
    path = tmp_path / "warm.json"
    path.write_text(json.dumps(data))
    note = tables.compile_note(tables.summary(load([path])))
    assert note.startswith("Compile: 1 compile case(s) on ") and "reused XLA:GPU's autotuning" in note
    assert report_command.main([str(path), "--out", str(tmp_path / "out")]) == 0
    for page in ("report.md", "report.html"):
        assert (tmp_path / "out" / page).read_text().count("reused XLA:GPU&#x27;s autotuning" if page.endswith("html")
                                                             else "reused XLA:GPU's autotuning") == 1
