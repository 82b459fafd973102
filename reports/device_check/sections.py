"""The sections of summary.md, one per step of ``.ci/device-check`` (the steps table, the probe,
the doctor, fork server vs interpreter, compile rounds, large and small populations, the harness
tests, the report)."""
from __future__ import annotations

from reports.device_check.layout import STEP2, STEP3, STEP5, STEP_TITLES, UNSET
from reports.device_check.markdown import fmt, table
from reports.device_check.out_dir import Run, read_device_check_json, read_junit
from reports.device_check.parts import finished_of, notes, part_status, start_of
from reports.device_check.rows import MIB, first_compile_s, median_s, memory_mib, round_figures, rows_of, state_after


def section_steps(run: Run) -> list[str]:
    """Per part, in the order they ran: status, rc, seconds, deadline, cases, how workers started."""
    rows = [[p.get("step"), p.get("part"), part_status(p, run), "-" if p.get("rc") is None else p.get("rc"),
             p.get("seconds"), p.get("deadline_s") or "-", finished_of(run, p) or "-", start_of(p, run),
             p.get("log") or "-"] for p in run.steps["parts"]]
    total = sum(p.get("seconds") or 0 for p in run.steps["parts"])
    budget = run.steps.get("budget_s")
    lines = ["## Steps", "", *table(["step", "part", "status", "rc", "s", "deadline s", "cases", "workers", "log"],
                                     rows), "",
             f"Total: {total} s over {len(run.steps['parts'])} parts" + (f" (budget {budget} s)." if budget else ".")]
    planned = [f"- {p.get('step')} {p.get('part')}: {p['plan']}" for p in run.steps["parts"]
               if p.get("plan") and p.get("rc") is not None]
    if planned:
        lines += ["", "Plan (grid and deadline of each part, from the probe):", *planned]
    return lines


def section_probe(run: Run) -> list[str]:
    """Step 0: what one worker cost on the device (every part's grid and deadline follow from it)."""
    lines = ["## 0. " + STEP_TITLES[0], ""]
    probe = read_device_check_json(run.out, "probe.json")
    if not isinstance(probe, dict):
        return lines + ["No probe.json (see logs/0-probe.log): the parts were sized by the fallback figures "
                        "(bench/device_check/plan.py FALLBACK_PROBE)."]
    workers = probe.get("workers") or {}
    start = workers.get("start", "-") + (f" ({workers['why']})" if workers.get("why") else "")
    rows = [[probe.get("case", "-"), start, fmt(probe.get("server_start_s"), "s"), fmt(probe.get("worker_start_s"), "s"),
             fmt(probe.get("backend_init_s"), "s"), fmt(probe.get("compile_s"), "s"), fmt(probe.get("first_run_s"), "s"),
             fmt(probe.get("generation_s"), "ms"), fmt(probe.get("wall_s"), "s")]]
    return lines + table(["case", "workers", "server start", "worker start", "backend init", "compile",
                          "first run", "generation ms", "worker wall"], rows)


def section_doctor(run: Run) -> list[str]:
    """Step 1: the doctor's WARN lines (doctor.json: [{"check", "status", "detail", "fix"}])."""
    lines = ["## 1. " + STEP_TITLES[1], ""]
    checks = read_device_check_json(run.out, "doctor.json")
    if not isinstance(checks, list):
        return lines + ["No doctor.json (see logs/1-doctor-json.log)."]
    warns = [c for c in checks if isinstance(c, dict) and c.get("status") == "WARN"]
    lines.append(f"{len(checks)} checks, {len(warns)} WARN.")
    rows = [[c.get("check"), c.get("detail"), c.get("fix")] for c in warns]
    return lines + ([""] + table(["check", "detail", "fix"], rows) if warns else [])


def section_fork_vs_interpreter(run: Run) -> list[str]:
    """Step 2: runtime medians with the fork server and with fresh interpreters, their ratio; how
    each part's workers started; the case with JAX_PLATFORMS unset."""
    fork, interp = (run.benches.get(n) for n in STEP2)
    a, b = rows_of(fork, "runtime"), rows_of(interp, "runtime")
    rows = []
    for key in sorted(set(a) | set(b)):
        ma, mb = median_s(a.get(key)), median_s(b.get(key))
        ratio = mb / ma if ma and mb else None
        rows.append([key, fmt(ma, "ms"), fmt(mb, "ms"), fmt(ratio, "ratio")])
    compiles = rows_of(fork, "compile")
    lines = ["## 2. " + STEP_TITLES[2], "",
             *table(["case", "fork server median ms", "interpreter median ms", "interpreter / fork"], rows), ""]
    lines.append(f"Compile cases of the quick grid (fork server): {len(compiles)}; "
                 f"median {', '.join(fmt(median_s(r), 's') for r in compiles.values()) or '-'}.")
    starts = [f"{n}: {start_of(run.entries[n], run)}" for n in STEP2 + (UNSET,) if n in run.entries]
    if starts:
        lines.append(f"Workers started by: {'; '.join(starts)}.")
    fell = (fork or {}).get("workers") or {}
    if fell and fell.get("start") != "fork server":
        lines.append(f"WARNING: the fork part's workers started as fresh interpreters ({fell.get('why')}): "
                     "this step compares interpreter with interpreter.")
    unset = run.benches.get(UNSET)
    found = rows_of(unset, "runtime")
    lines += ["", f"With JAX_PLATFORMS unset (the worker picks its own platforms, as a user's run does):", "",
              *table(["case", "median ms", "env steps/s", "jax_platforms of the workers", "backend init s"],
                     [[k, fmt(median_s(r), "ms"), fmt(r["extra_info"].get("env_steps_per_s"), "rate"),
                       r["extra_info"].get("jax_platforms") or "-",
                       ", ".join(fmt(x, "s") for x in (r["extra_info"].get("backend_init_s") or [])) or "-"]
                      for k, r in sorted(found.items())])]
    return lines + notes(run, *STEP2, UNSET)


def section_compile_rounds(run: Run) -> list[str]:
    """Step 3: every compile round, min/median/max, max/min and round 1 slowest, per isolation."""
    rows = []
    by_isolation = {name: rows_of(run.benches.get(name), "compile") for name in STEP3}
    for key in sorted(set().union(*by_isolation.values())):
        for name, found in by_isolation.items():
            if key not in found:
                rows.append([key, name.split("-", 1)[1], "missing", "-", "-", "-", "-", "-", "-"])
                continue
            f = round_figures(found[key])
            rows.append([key, name.split("-", 1)[1], ", ".join(f"{r:.3g}" for r in f["rounds"]),
                         fmt(f["min"], "s"), fmt(f["median"], "s"), fmt(f["max"], "s"),
                         fmt(f["spread"], "ratio"), "yes" if f["first_slowest"] else "no",
                         fmt(f.get("backend_compiles"))])
    lines = ["## 3. " + STEP_TITLES[3], "",
             *table(["case", "isolation", "rounds s", "min", "median", "max", "max/min", "round 1 slowest",
                     "backend compiles"], rows), "",
             "Each round must be a backend compile (backend compiles >= 1 in every round). Under process "
             "isolation, round 1 systematically slowest means a cache leaks between processes "
             "(~/.nv/ComputeCache, --xla_gpu_per_fusion_autotune_cache_dir, "
             "--xla_gpu_load_autotune_results_from)."]
    return lines + notes(run, *STEP3)


def section_large(run: Run) -> list[str]:
    """Step 4: env steps/s, peak - baseline memory, compile seconds, first run, energy per
    generation, the device's clocks and temperature after the rounds, and the stability flags,
    per strategy x pop."""
    found = rows_of(run.benches.get("large"), "runtime")
    rows, why, memory_why = [], set(), set()
    for r in sorted(found.values(), key=lambda r: (r["extra_info"].get("strategy"), r["extra_info"].get("popsize"))):
        x = r["extra_info"]
        after = state_after(x)
        first = x.get("first_run_s")
        first = max(first) if isinstance(first, list) and first else first
        if x.get("energy_unavailable"):
            why.add(x["energy_unavailable"])
        # no generation memory figure: the row says why (the memory worker's failure, no saved executable)
        no_memory = x.get("generation_memory_worker_error") or x.get("generation_memory_unavailable")
        if x.get("generation_memory_bytes") is None and no_memory:
            memory_why.add(str(no_memory))
        rows.append([x.get("strategy"), x.get("popsize"), x.get("num_evals"), fmt(median_s(r), "ms"),
                     fmt(x.get("env_steps_per_s"), "rate"), fmt(memory_mib(r)), fmt(first_compile_s(r), "s"),
                     x.get("memory_source", "-"), fmt(first, "s"), fmt(x.get("energy_j")),
                     fmt(x.get("env_steps_per_joule"), "rate"), fmt(after.get("sm_clock_mhz")),
                     fmt(after.get("temperature_c")), ", ".join(x.get("throttle_reasons") or []) or "-",
                     ", ".join(x.get("unstable") or []) or "-",
                     fmt(None if x.get("generation_memory_bytes") is None else x["generation_memory_bytes"] / MIB)])
    lines = ["## 4. " + STEP_TITLES[4], "",
             *table(["strategy", "pop", "evals", "median ms", "env steps/s", "peak - baseline MiB", "compile s",
                     "memory source", "first run s (slowest worker)", "energy J/gen", "env steps/J", "SM MHz after",
                     "temp C after", "throttled", "unstable", "generation MiB (the rounds' own)"], rows)]
    if why:
        lines += ["", f"Energy not measured: {'; '.join(sorted(why))}."]
    if memory_why:
        lines += ["", f"Generation memory not measured: {'; '.join(sorted(memory_why))}."]
    return lines + notes(run, "large")


def section_small(run: Run) -> list[str]:
    """Step 5: median ms and env steps/s per pop for unroll 1, unroll 4 and command buffers."""
    found = {n: rows_of(run.benches.get(n), "runtime") for n in STEP5}
    keys = sorted(set().union(*found.values()), key=lambda k: (k.split()[0], int(k.split()[2][3:])))
    rows = []
    for key in keys:
        cells = [key]
        for n in STEP5:
            r = found[n].get(key)
            cells += [fmt(median_s(r), "ms"), fmt(None if r is None else r["extra_info"].get("env_steps_per_s"), "rate")]
        rows.append(cells)
    header = ["case"] + [f"{n} {what}" for n in STEP5 for what in ("ms", "steps/s")]
    lines = ["## 5. " + STEP_TITLES[5], "", *table(header, rows), ""]
    if run.platform == "cpu":
        lines.append("command-buffer: not applicable on cpu (XLA's CPU client ignores the GPU flag: the "
                     "program is unroll 1's, and any difference is noise).")
    else:
        lines.append("Small populations are launch-bound when unroll 4 or command buffers beat unroll 1 "
                     "by far: 200 scan steps x several kernels per generation.")
    return lines + notes(run, *STEP5)


def section_tests(run: Run) -> list[str]:
    """Step 6: passed / failed / errors / skipped of the harness tests' junit xml."""
    counts = read_junit(run.out, "json/tests.xml")
    lines = ["## 6. " + STEP_TITLES[6], ""]
    if counts is None:
        return lines + ["No json/tests.xml (see logs/6-tests.log)."]
    lines += table(["tests", "passed", "failed", "errors", "skipped"],
                   [[counts[k] for k in ("tests", "passed", "failed", "errors", "skipped")]])
    lines += ["", f"In-process tests (test_workload) ran on the default platform ({run.platform}); the pytest "
              "bench runs of test_isolation use CPU devices by construction (tests/helpers.py bench_env)."]
    return lines


def report_line(run: Run) -> str:
    """Where step 7's report.html is, or that it is missing."""
    found = run.out.exists("report/report.html")
    return "report.html: report/report.html" if found else "report.html: missing (see logs/7-report.log)"
