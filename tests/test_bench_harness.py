"""The benchmark harness's own logic: devices, cold compiles, guarded rounds, JSON, usage errors.

``pytest bench`` runs in a subprocess (with a deadline, its process group killed with it)
with two forced host devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2``) on
a tiny grid. Process isolation itself is tested in ``test_isolation.py``.
"""
import json
import os

import jax
import jax.numpy as jnp
import pytest

from helpers import TINY, grid_options, reference, run_bench
from bench.measure import timing
from results_format.json_schema import SCHEMA_PATH
from results_format.keys import field_map
from results_format.rows import ROWS
from results_format.validate import problems
from results_format.version import SCHEMA_VERSION

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Runtime cases on both devices, each in its own worker process (the default isolation)."""
    tmp = tmp_path_factory.mktemp("tiny")
    proc, data = run_bench(tmp, *TINY, "--es-devices", "cpu:0,cpu:1", "--es-phases", "runtime",
                           ESPERF_BACKENDS_FILE=str(tmp / "backends.json"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data["backends"] = json.loads((tmp / "backends.json").read_text())
    return data


@pytest.fixture(scope="module")
def tiny_compile(tmp_path_factory):
    """Cold compiles, one worker process per round."""
    proc, data = run_bench(tmp_path_factory.mktemp("compile"), *TINY, "--es-devices", "cpu:1", "--es-phases",
                           "compile")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return data


@pytest.fixture(scope="module")
def tiny_breakdown(tmp_path_factory):
    """The ask/eval/tell breakdown, in the pytest process (--es-isolate none)."""
    tmp = tmp_path_factory.mktemp("parts")
    proc, data = run_bench(tmp, *TINY, "--es-devices", "cpu:1", "--es-breakdown", "--es-phases", "runtime",
                           "--es-isolate", "none", ESPERF_BACKENDS_FILE=str(tmp / "backends.json"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data["backends"] = json.loads((tmp / "backends.json").read_text())
    return data


jsonschema, needs_jsonschema = reference("jsonschema", "jsonschema")

EXTRA_KEYS = {
    "phase", "strategy", "env", "popsize", "num_evals", "episode_length", "hidden", "num_params", "device",
    "device_kind", "platform", "env_steps", "env_steps_per_s", "impl", "part", "devices", "num_devices",
    "popsize_per_device", "isolation", "worker_pids", "baseline_memory_bytes", "peak_memory_bytes", "memory_source",
    "strategy_source", "env_source",
}
COMPILE_KEYS = {"trace_s", "lower_s", "compile_s"}
RUNTIME_KEYS = {"compile_events", "peak_memory_bytes", "memory_source", "flops", "flops_per_s"}
MACHINE_KEYS = {
    "hostname", "cpu_model", "physical_cores", "logical_cores", "ram_bytes", "os", "python", "jax_version",
    "jaxlib_version", "backend_platform_version", "devices", "xla_flags", "jax_env", "esperf_schema_version",
    "blas_threads", "unused_accelerators", "backend_errors", "system_check",
}


@pytest.mark.integration
def test_all_devices_yield_one_case_each_with_results_there(tiny_run):
    gens = [b for b in tiny_run["benchmarks"] if b["extra_info"]["part"] == "generation"]
    names = {b["name"] for b in gens}
    for dev in ("cpu:0", "cpu:1"):
        assert f"test_generation[runtime-cma_es-Pendulum-v1-pop8-evals2-{dev}]" in names
    assert {b["extra_info"]["device"] for b in gens} == {"cpu:0", "cpu:1"}
    assert [d["id"] for d in tiny_run["machine_info"]["devices"]] == ["cpu:0", "cpu:1"]
    # the same case, run the same number of generations, computed the same state on each device
    checksums = [b["extra_info"]["state_checksum"] for b in gens]
    assert [b["extra_info"]["executions"] for b in gens] == [5, 5]  # warm-up, calibration, 3 rounds
    assert checksums[0] == checksums[1] and checksums[0] != 0


def test_the_state_checksum_changes_with_every_generation_carried():
    """state_checksum reads the carried state: one generation more, another value."""
    from bench.measure.rounds import state_checksum
    from bench.workload import Workload

    wl = Workload(popsize=8, evals=2, hidden=4, episode_length=5)
    state = jax.jit(wl.init)(jax.random.key(0))
    step = jax.jit(wl.generation)
    after = [state_checksum(state)]
    for _ in range(2):
        state, _ = step(state)
        after.append(state_checksum(state))
    assert len(set(after)) == 3, after
    assert state_checksum({"key": jax.random.key(1), "n": jnp.int32(3)}) == 0.0  # keys and ints are left out


def test_the_placement_check_fails_an_output_off_the_devices_under_test():
    from bench.case import CaseFailed
    from bench.measure.rounds import check_placement

    here = jax.devices()[:1]
    out = (jnp.ones(3), {"b": jnp.zeros(2)})
    check_placement(out, here)
    elsewhere = type("Device", (), {"__repr__": lambda self: "gpu:7"})()
    with pytest.raises(CaseFailed, match=r"expected only \['gpu:7'\]"):
        check_placement(out, [elsewhere])
    with pytest.raises(CaseFailed, match="output on"):
        check_placement((jnp.ones(3), "a host value"), here)  # not a device array at all


def test_chained_rounds_carry_each_output_into_the_next_round():
    """A generation's rounds chain: round k+1 starts from round k's first output; a part's repeat."""
    zero = jnp.zeros((), jnp.int32)
    step = jax.jit(lambda c: (c + 1, c * 10)).lower(zero).compile()
    chained = timing.ChainedRunner(step, zero)
    timing.time_rounds(chained, 3)
    assert int(chained.carry) == 3 and [int(v) for v in chained.last] == [3, 20]
    repeated = timing.RepeatRunner(step, (zero,))
    timing.time_rounds(repeated, 3)
    assert [int(v) for v in repeated.last] == [1, 0]


@pytest.mark.integration
def test_the_pytest_process_starts_no_backend(tiny_run, tiny_breakdown):
    assert tiny_run["backends"] == []  # workers list the devices and measure
    assert tiny_breakdown["backends"] == ["cpu"]  # the check does see a backend where one started


@pytest.mark.integration
@pytest.mark.parametrize("run", ["tiny_run", "tiny_compile", "tiny_breakdown"])
def test_json_has_every_documented_key(run, request):
    data = request.getfixturevalue(run)
    isolation = "none" if run == "tiny_breakdown" else "process"
    assert MACHINE_KEYS <= set(data["machine_info"])
    assert "--xla_force_host_platform_device_count=2" in data["machine_info"]["xla_flags"]
    assert data["machine_info"]["isolation"] == isolation
    blas = data["machine_info"]["blas_threads"]
    assert blas and all(p["threads"] == 1 for p in blas), blas
    assert data["esperf"] == {"schema_version": SCHEMA_VERSION, "run": "measured", "failed": []}
    assert problems(data) == []  # the whole file is the format's (results_format), as reports reads it
    for a in data["machine_info"]["unused_accelerators"]:  # [] unless the host has an accelerator
        assert set(a) == {"platform", "name", "why"} and a["why"], a
    checks = data["machine_info"]["system_check"]
    assert {"jax.versions", "cpu.load", "memory.free", "env.xla_flags"} <= {c["check"] for c in checks}
    assert all(c["status"] in ("OK", "WARN", "INFO") and c["detail"] for c in checks), checks
    for b in data["benchmarks"]:
        info = b["extra_info"]
        assert EXTRA_KEYS <= set(info), b["name"]
        declared = set(field_map(ROWS[info["phase"]]))  # every key written is in the results format's definition
        assert set(info) <= declared, (b["name"], set(info) - declared)
        assert info["jax_platforms"] == "cpu", info["jax_platforms"]  # the suite's JAX_PLATFORMS=cpu, kept
        assert info["strategy_source"] == info["env_source"] == "builtin"  # cma_es on Pendulum-v1
        assert len(b["stats"]["data"]) == b["stats"]["rounds"] >= 3
        if info["phase"] == "compile":
            assert COMPILE_KEYS <= set(info)
            assert len(info["compile_s"]) == b["stats"]["rounds"]
            # the timed value is the sum of the three stages
            for i, t in enumerate(b["stats"]["data"]):
                stages = info["trace_s"][i] + info["lower_s"][i] + info["compile_s"][i]
                assert t == pytest.approx(stages, rel=1e-9)
        else:
            assert RUNTIME_KEYS <= set(info)
            assert info["memory_source"] == "process_peak_rss" and info["peak_memory_bytes"] > 0
            assert info["isolation"] == isolation and len(info["worker_pids"]) == 1
            if isolation == "process":
                assert info["peak_memory_bytes"] > info["baseline_memory_bytes"] > 0
                assert info["worker_pids"][0] != os.getpid() and info["backend_init_s"][0] > 0
            else:
                assert info["baseline_memory_bytes"] is None
        if info["part"] in ("generation", "eval"):
            assert info["env_steps"] == 8 * 2 * 5
        if info["part"] in ("generation", "eval") and info["phase"] == "runtime":
            assert info["env_steps_per_s"] == pytest.approx(info["env_steps"] / b["stats"]["median"])
            assert info["flops"] > 0
            assert info["flops_per_s"] == pytest.approx(info["flops"] / b["stats"]["median"])
        else:
            assert info["env_steps_per_s"] is None
    parts = {b["extra_info"]["part"] for b in data["benchmarks"]}
    assert parts == ({"generation", "ask", "eval", "tell"} if run == "tiny_breakdown" else {"generation"})


@pytest.mark.integration  # `pytest bench` end to end in a subprocess
@needs_jsonschema
@pytest.mark.parametrize("run", ["tiny_run", "tiny_compile", "tiny_breakdown"])
def test_json_matches_the_published_schema(run, request):
    """Runtime in workers, compile rounds, the breakdown in the pytest process: each file is valid
    against results_format's JSON Schema, as a dashboard would read it."""
    data = request.getfixturevalue(run)
    data = {k: v for k, v in data.items() if k != "backends"}  # the test's own record of backends, not the file's
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")), cls=jsonschema.Draft202012Validator)


@pytest.mark.integration
def test_every_compile_round_is_cold_in_its_own_process(tiny_compile, tiny_run):
    """jax's own events, per round: a trace, a lowering and a backend compile, in a fresh worker."""
    (b,) = tiny_compile["benchmarks"]
    info = b["extra_info"]
    # one lowering and one XLA compile each; jax < 0.9 also counts every nested jaxpr trace
    assert len(info["compile_events"]) == 3
    assert all(e["trace"] >= 1 and e["lower"] == 1 and e["backend_compile"] == 1 for e in info["compile_events"])
    assert len(set(info["worker_pids"])) == 3 and len(info["backend_init_s"]) == 3
    pids = info["worker_pids"] + [p for r in tiny_run["benchmarks"] for p in r["extra_info"]["worker_pids"]]
    assert len(pids) == len(set(pids)) == 5, "a worker process measured twice"


def test_repeated_cold_compile_in_process_compiles_again():
    """In one process too, each cold round traces, lowers and backend-compiles (no cache answers)."""
    from bench.workload import Workload

    wl = Workload(popsize=8, evals=2, hidden=4, episode_length=5)
    state = wl.init(jax.random.key(0))
    rounds = [timing.cold_compile(wl.generation_fn, (state,))[1] for _ in range(2)]
    assert all(r["trace"] >= 1 and r["lower"] == 1 and r["backend_compile"] == 1 for r in rounds), rounds
    # without clearing the caches, the same function compiled again is answered from them
    fn = wl.generation_fn()
    timing.compile_stages(fn, (state,))
    with timing.CompileCounter() as counter:
        timing.compile_stages(fn, (state,))
    assert counter.counts()["backend_compile"] == 0


def test_recompilation_inside_guarded_rounds_raises():
    def rounds():
        for _ in range(3):
            jax.jit(lambda x: x * 2)(jnp.ones(3)).block_until_ready()

    with pytest.raises(timing.RecompilationError, match="compilation event"):
        timing.guarded_rounds(rounds)
    compiled = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    out, _ = timing.guarded_rounds(lambda: [compiled(jnp.ones(3)) for _ in range(3)])
    assert [float(o[1]) for o in out] == [2.0, 2.0, 2.0]


@pytest.mark.integration
def test_forced_recompilation_fails_the_case_and_is_listed(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-devices", "cpu:0", "--es-phases", "runtime", fault="recompile")
    assert proc.returncode == 1
    assert "RecompilationError" in proc.stdout
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["phase"] == "runtime" and "compilation event" in failed["error"]
    assert data["benchmarks"] == []  # no figure for a case whose rounds compiled


@pytest.mark.integration
def test_evosax_rows_without_the_peers_extra_are_a_usage_error(tmp_path):
    proc, data = run_bench(tmp_path, *TINY, "--es-impls", "esperf,evosax", fault="no-peers")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "'evosax'" in proc.stderr and 'pip install -e ".[peers]"' in proc.stderr
    assert "Traceback" not in proc.stderr and data is None


@pytest.mark.integration
@pytest.mark.parametrize("isolation", ["process", "none"])
def test_failed_case_is_recorded_and_the_others_are_still_written(tmp_path, isolation):
    args = [a if a != "8" else "8,16" for a in TINY]
    proc, data = run_bench(tmp_path, *args, "--es-devices", "cpu:0", "--es-phases", "runtime",
                           "--es-isolate", isolation, fault="fail-pop16")
    assert proc.returncode == 1
    assert [b["extra_info"]["popsize"] for b in data["benchmarks"]] == [8]
    assert data["benchmarks"][0]["extra_info"]["isolation"] == isolation
    (failed,) = data["esperf"]["failed"]
    assert failed["extra_info"]["popsize"] == 16 and "RESOURCE_EXHAUSTED" in failed["error"]
    assert not (tmp_path / "out.json.partial").exists()


@pytest.mark.integration
def test_a_run_whose_every_case_fails_still_writes_its_json(tmp_path):
    args = [a if a != "8" else "16" for a in TINY]
    proc, data = run_bench(tmp_path, *args, "--es-devices", "cpu:0", fault="fail-pop16")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert data["benchmarks"] == []
    assert {f["extra_info"]["phase"] for f in data["esperf"]["failed"]} == {"compile", "runtime"}
    assert all("RESOURCE_EXHAUSTED" in f["error"] for f in data["esperf"]["failed"])
    assert data["machine_info"]["esperf_schema_version"] == SCHEMA_VERSION
    assert problems(data) == []  # the failed cases' settings are the format's CaseSettings
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary or partial file left


FOUR_CPUS = {f"cpu:{i}": {"id": f"cpu:{i}", "process_index": 0} for i in range(4)}


@pytest.mark.parametrize(
    "given, needles",
    [
        (dict(es_devices="gpu:3"), ["'gpu:3'", "cpu:0", "cpu:3"]),
        (dict(es_grid="huge"), ["'huge'", "quick", "seed", "full"]),
        (dict(es_pops="100,0"), ["--es-pops", "0", "positive"]),
        (dict(es_strategies="cmaes"), ["'cmaes'", "cma_es", "openai_es", "simple_ga"]),
        (dict(es_envs="Pendulum-v0"), ["'Pendulum-v0'", "Pendulum-v1", "CartPole-v1"]),
        (dict(es_phases="warmup"), ["'warmup'", "compile", "runtime"]),
        (dict(es_strategies="openai_es", es_pops="7"), ["7", "even"]),
        (dict(es_hidden="many"), ["--es-hidden", "'many'"]),
        (dict(es_pops="6", es_devices="cpu:0+1+2+3"), ["popsize 6", "4 devices", "cpu:0+1+2+3", "multiple of 4"]),
        (dict(es_cpu_cores="0"), ["--es-cpu-cores", "0"]),
        (dict(es_devices="cpu:0+7"), ["cpu:7", "not a visible device", "cpu:0, cpu:1, cpu:2, cpu:3"]),
        (dict(es_scaling="linear"), ["'linear'", "strong", "weak"]),
    ],
)
def test_bad_grid_options_name_the_value_and_what_is_allowed(given, needles):
    from bench.plugin.grid import build_cases

    with pytest.raises(ValueError) as err:
        build_cases(grid_options(**given), FOUR_CPUS)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "given, needles",
    [
        (dict(es_isolate="thread"), ["'thread'", "process", "none"]),
        (dict(es_case_timeout="-1"), ["--es-case-timeout", "'-1'"]),
        (dict(es_case_timeout="soon"), ["--es-case-timeout", "'soon'"]),
        (dict(es_compile_rounds="2"), ["--es-compile-rounds", "2", ">= 3"]),
        (dict(es_distributed_timeouts="60,20"), ["--es-distributed-timeouts", "'60,20'", "INIT,HEARTBEAT,SHUTDOWN"]),
        (dict(es_peak_flops="cpu=fast"), ["--es-peak-flops", "'cpu=fast'", "KIND=FLOPS"]),
        (dict(es_runtime_workers="0"), ["--es-runtime-workers", "0", ">= 1"]),
        (dict(es_runtime_workers="many"), ["--es-runtime-workers", "'many'", "int"]),
        (dict(es_isolate="none", es_runtime_workers="3"), ["--es-runtime-workers", "3", "--es-isolate none",
                                                           "--es-isolate process"]),
    ],
)
def test_bad_run_options_name_the_value_and_what_is_allowed(given, needles):
    from bench.plugin.options import parse_run_options

    with pytest.raises(ValueError) as err:
        parse_run_options(grid_options(**given), False)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


@pytest.mark.integration
@pytest.mark.parametrize(
    "args, needles",
    [
        (["--es-isolate", "thread"], ["'thread'", "process", "none"]),  # found before any device is listed
        (["--es-devices", "gpu:3"], ["'gpu:3'", "cpu:0", "cpu:1"]),  # found against the devices a worker listed
    ],
)
def test_bad_options_are_usage_errors_naming_the_value(tmp_path, args, needles):
    proc, _ = run_bench(tmp_path, *args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    message = proc.stderr
    for needle in needles:
        assert needle in message, message
    assert "Traceback" not in message


def test_rounds_fill_max_time_but_stay_within_bounds():
    assert timing.rounds_for(0.05, 1.0, 20) == 20  # 1 s / 0.05 s = 20
    assert timing.rounds_for(0.001, 1.0, 20) == 1000  # capped
    assert timing.rounds_for(0.2, 1.0, 20) == 20  # the floor of the quick grid
    assert timing.rounds_for(30.0, 1.0, 20) == 5  # a huge case keeps 5 samples, not 20 x 30 s
    assert timing.rounds_for(10.0, 1.0, 20) == 12  # 120 s budget / 10 s


def test_flops_count_every_scanned_step():
    """XLA's cost analysis counts a loop body once; the recorded FLOPs count all L steps."""
    from bench.measure.placement import Placement
    from bench.measure.targets import make_target
    from bench.case import Case
    from bench.case import Settings
    from bench.measure.flops import xla_flops

    placement = Placement.on(jax.devices()[:1])
    pop, evals, hidden = 16, 3, 8
    counted = {}
    for length in (50, 100):
        case = Case("runtime", "openai_es", "Pendulum-v1", pop, evals, hidden, length, "cpu:0")
        target = make_target(case, Settings(), placement)
        compiled = timing.compile_stages(target.make_fn(), target.args, target.in_shardings,
                                         target.out_shardings).compiled
        counted[length] = (xla_flops(compiled)[0], target.flops_fn(compiled)[0])
    uncorrected, flops = counted[50]
    # the MLP's matmul FLOPs alone, every step of every episode of every member
    policy = 2 * pop * evals * 50 * (3 * hidden + hidden * 1)
    assert uncorrected < policy <= flops, (uncorrected, policy, flops)
    # the scanned steps dominate: twice the episode length, nearly twice the FLOPs
    # (ask and tell do not grow with it); an uncorrected count would not grow at all
    assert 1.8 <= counted[100][1] / flops <= 2.0, counted


def test_the_scan_step_is_costed_on_the_cases_device(monkeypatch):
    """The step's extra FLOPs come from a program compiled for the case's device, not the default backend."""
    from bench.measure import flops as flops_module

    device = jax.devices("cpu")[-1]
    compiled_for = []
    real = flops_module.xla_flops

    def spy(compiled, *rest):
        compiled_for.append({d for s in jax.tree.leaves(compiled.input_shardings) for d in s.device_set})
        return real(compiled, *rest)

    monkeypatch.setattr(flops_module, "xla_flops", spy)
    fn = flops_module.scan_flops_fn(10, 1, lambda: (lambda x, c: (x @ c).sum(), (
        jax.ShapeDtypeStruct((4, 4), jnp.float32), jax.ShapeDtypeStruct((4, 4), jnp.float32))), device)
    whole = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    total, why = fn(whole)
    assert why is None and total > 0
    assert compiled_for[-1] == {device}  # the step; compiled_for[0] is the whole program
