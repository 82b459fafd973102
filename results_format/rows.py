"""A row's ``extra_info``: esperf's keys of one case in a results file, grouped by job.

Every record is a ``TypedDict`` (:mod:`results_format.keys` says how a key is declared): a
``Required`` key is in every row of its phase written at or after the schema version of its
``Key(since=...)``; a ``NotRequired`` key only in some (a GPU's energy readings, a failed
memory worker, a peak given on the command line). A compile row is a :class:`CompileRow`, a
runtime row a :class:`RuntimeRow` (:data:`ROWS`): the union of their records. Keys beyond
these (a plugin's, a later additive key) are allowed. Rows of version 1 lack ``unroll``,
``pop_chunk_setting`` and ``isolation``: read them with
:data:`results_format.identity.CASE_DEFAULTS`.

The writer builds :class:`CaseSettings` with ``bench.case.Case.fields`` (a test checks the
keys are the same), the rest in ``bench.measure`` and ``bench.plugin.session``.
"""
from typing import Literal, NotRequired, Required, TypedDict

from results_format.keys import Annotated, Bytes, Count, Key, Min, Pattern, Seconds

PHASES = ("compile", "runtime")
PARTS = ("generation", "ask", "eval", "tell")
ISOLATIONS = ("process", "none")
# Version-1 rows name their device by one of these at least (both are required from version 2).
DEVICE_NAMED_BY = ("device", "device_kind")


class CaseSettings(TypedDict):
    """The case's settings: what it measured, with what, where (``Case.fields()``; also the
    ``extra_info`` of a failed case under ``esperf.failed``). :mod:`results_format.identity`
    names the ones that identify a case."""

    impl: Required[Annotated[str, Key("whose generation: esperf, or a peer library's (evosax)")]]
    part: Required[Annotated[Literal[PARTS], Key("the whole generation, or one part of it (--es-breakdown)")]]
    phase: Required[Annotated[Literal[PHASES], Key("compile: cold compiles; runtime: timed executions", since=1)]]
    strategy: Required[Annotated[str, Key("the evolution strategy (a built-in name, module:attr, evosax:<Name>)",
                                          since=1)]]
    env: Required[Annotated[str, Key("the environment (a built-in id, module:attr, gymnax:<env-id>)", since=1)]]
    popsize: Required[Annotated[Count, Key("population size (the whole population of a device set)", since=1)]]
    num_evals: Required[Annotated[Count, Key("episodes per member and generation (--es-evals)", since=1)]]
    hidden: Required[Annotated[Count, Key("hidden units of the MLP policy (--es-hidden)")]]
    episode_length: Required[Annotated[Count | None, Key(
        "steps per episode; null in a failed case's settings where the env's own length applies")]]
    device: Required[Annotated[str, Key("the device id (cpu:0) or device-set spec (cpu:all, gpu:0+1)")]]
    devices: Required[Annotated[list[str], Key("the device ids the case ran on")]]
    num_devices: Required[Annotated[Count, Key("how many devices the case spans")]]
    cores_used: Required[Annotated[Count | None, Key("CPU cores the case used (one per CPU device); null off the CPU")]]
    popsize_per_device: Required[Annotated[Count, Key("population rows each device evaluates (padded)")]]
    scaling: Required[Annotated[Literal["strong", "weak"] | None, Key(
        "the --es-scaling series the case belongs to; null outside one")]]
    unroll: Required[Annotated[Count, Key("lax.scan unroll of the episode loop (--es-unroll)")]]
    pop_chunk_setting: Required[Annotated[Annotated[str, Pattern("^(auto|off|[0-9]+)$", "auto, off or digits")], Key(
        "--es-pop-chunk as given (auto, off or members per block); pop_chunk is what it resolved to")]]
    isolation: Required[Annotated[Literal[ISOLATIONS], Key(
        "process: fresh worker processes measured the case; none: the pytest process (--es-isolate)")]]


class DeviceFacts(TypedDict):
    """Facts of the case's target on its devices (``bench.measure.targets.target_info``)."""

    strategy_source: Required[Annotated[str, Key("where the strategy comes from: builtin, or a package and version")]]
    env_source: Required[Annotated[str, Key("where the env comes from: builtin, or a package and version")]]
    num_params: Required[Annotated[Count, Key("parameters of the policy a member encodes")]]
    device_kind: Required[Annotated[str, Key("jax's device_kind of the first device (cpu, NVIDIA H100 80GB HBM3)")]]
    platform: Required[Annotated[str, Key("jax's platform of the devices (cpu, gpu, tpu)")]]
    num_processes: Required[Annotated[Count, Key("processes whose devices the case spans (jax.distributed)")]]
    env_steps: Required[Annotated[Annotated[int, Min(0)] | None, Key(
        "env steps of one generation (popsize x evals x episode_length); null for the ask and tell parts")]]
    pop_chunk: NotRequired[Annotated[Count | None, Key(
        "members per block the population was evaluated in; null: all at once (esperf's cases only)")]]
    pop_blocks: NotRequired[Annotated[Count, Key("blocks of the population per device (esperf's cases only)")]]
    pop_chunk_source: NotRequired[Annotated[str, Key("how pop_chunk was chosen (esperf's cases only)")]]


class CompileEvents(TypedDict):
    """jax's own compile events during one cold compile round."""

    trace: Required[Annotated[Annotated[int, Min(0)], Key("traces", since=1)]]
    lower: Required[Annotated[Annotated[int, Min(0)], Key("lowerings", since=1)]]
    backend_compile: Required[Annotated[Annotated[int, Min(0)], Key("XLA backend compiles", since=1)]]


class CompileFigures(TypedDict):
    """A compile row's figures, one per cold round (``bench.measure.rounds.compile_figures``)."""

    trace_s: Required[Annotated[list[Seconds], Key("seconds tracing, per round")]]
    lower_s: Required[Annotated[list[Seconds], Key("seconds lowering to StableHLO, per round")]]
    compile_s: Required[Annotated[list[Seconds], Key("seconds in XLA's compile, per round")]]
    compile_events: Required[Annotated[list[CompileEvents], Key("jax's compile events, per round")]]
    backend_compiles: Required[Annotated[list[Annotated[int, Min(0)]], Key("XLA backend compiles, per round")]]
    compile_warm_autotune: Required[Annotated[bool, Key(
        "whether rounds after the first reused the process's GPU autotuning (--es-isolate none on a GPU)")]]


class RuntimeFigures(TypedDict):
    """A runtime row's figures (``bench.measure.rounds.measure_runtime`` and ``runtime_figures``)."""

    compile_events: Required[Annotated[Annotated[int, Min(0)], Key(
        "jax compile events during the timed rounds (0; any other count fails the case)")]]
    executions: Required[Annotated[Count, Key("generations run: warm-up, calibration and timed rounds, all workers")]]
    state_checksum: Required[Annotated[float | None, Key(
        "float64 sum of the carried state after the timed rounds; null for a part or a state not held whole")]]
    first_compile_s: Required[Annotated[Seconds, Key("seconds of the runtime worker's own compile, untimed")]]
    first_run_s: Required[Annotated[list[Seconds], Key("seconds of the first execution (the warm-up), per worker")]]
    runtime_workers: Required[Annotated[Count, Key("worker processes that shared the timed rounds")]]
    worker_medians: Required[Annotated[list[Seconds], Key("each worker's median seconds per round")]]
    worker_rounds: Required[Annotated[list[Count], Key(
        "each worker's rounds: consecutive blocks of stats.data, adding up to its length")]]
    flops: Required[Annotated[Annotated[float, Min(0)] | None, Key(
        "FLOPs of one generation (XLA's cost analysis over the scan); null with flops_error")]]
    flops_error: NotRequired[Annotated[str, Key("why flops is null, or beside a figure why it is partial")]]
    bytes_accessed: Required[Annotated[Annotated[float, Min(0)] | None, Key(
        "bytes read and written by one generation (XLA's cost analysis); null where XLA gives none")]]
    executable_not_saved: NotRequired[Annotated[str, Key("why the memory worker had no executable to load")]]
    profile_dir: NotRequired[Annotated[str, Key("the folder of the case's profiler trace (--es-profile)")]]
    profile_rounds: NotRequired[Annotated[Count, Key("generations traced after the timed rounds (--es-profile)")]]


class Rates(TypedDict):
    """Figures per second of the median round, against the device's peak (``rounds.rates``)."""

    env_steps_per_s: Required[Annotated[Annotated[float, Min(0)] | None, Key(
        "env steps per second of the median round; null for compile rows and the ask/tell parts")]]
    env_steps_per_joule: NotRequired[Annotated[Annotated[float, Min(0)] | None, Key(
        "env steps per joule; null with energy_unavailable where the counter did not move")]]
    flops_per_s: NotRequired[Annotated[Annotated[float, Min(0)], Key("FLOP/s of the median round (where flops)")]]
    peak_flops: NotRequired[Annotated[Annotated[float, Min(0)] | None, Key(
        "the peak FLOP/s pct_of_peak divides by; null where none was given or measured")]]
    pct_of_peak: NotRequired[Annotated[float | None, Key("100 x flops_per_s / peak_flops")]]
    peak_source: NotRequired[Annotated[Literal["given", "measured"], Key(
        "given: --es-peak-flops KIND=FLOPS; measured: --es-peak-flops auto")]]
    peak_of: NotRequired[Annotated[str, Key("which measured peak peak_flops is (a device set and its cores)")]]
    smoke: NotRequired[Annotated[bool, Key("a smoke run's row (--benchmark-disable): one round, no figure")]]


class Memory(TypedDict):
    """The case's memory: the measuring process's and XLA's plan (``bench.measure.memory``)."""

    baseline_memory_bytes: Required[Annotated[Bytes | None, Key(
        "bytes in use after the worker's backend start, before the case; null in the pytest process")]]
    peak_memory_bytes: Required[Annotated[Bytes, Key("peak bytes in use of the measuring process or its devices")]]
    memory_source: Required[Annotated[str, Key(
        "where the memory figures come from: device_memory_stats, process_peak_rss or process_rss")]]
    xla_argument_bytes: NotRequired[Annotated[Bytes, Key("bytes XLA plans for the executable's arguments")]]
    xla_output_bytes: NotRequired[Annotated[Bytes, Key("bytes XLA plans for its outputs")]]
    xla_temp_bytes: NotRequired[Annotated[Bytes, Key("bytes XLA plans for its temporaries")]]
    xla_memory_error: NotRequired[Annotated[str, Key("why XLA gave no plan (instead of the xla_*_bytes)")]]


class GenerationMemory(TypedDict):
    """The memory the timed generations themselves needed, apart from the compile's peak."""

    generation_memory_bytes: Required[Annotated[Bytes | None, Key(
        "bytes the timed rounds added; null with generation_memory_unavailable")]]
    generation_memory_source: Required[Annotated[str | None, Key(
        "how it was measured: rss_hwm_reset, device_peak, loaded_executable, ...")]]
    generation_memory_unavailable: NotRequired[Annotated[str, Key("why generation_memory_bytes is null")]]
    generation_memory_pid: NotRequired[Annotated[int, Key("the memory worker that loaded the saved executable")]]
    generation_memory_worker_error: NotRequired[Annotated[str, Key("how the memory worker failed")]]


class GpuState(TypedDict):
    """One NVIDIA GPU in one reading; a field whose NVML call failed is null."""

    sm_clock_mhz: Required[Annotated[int | None, Key("SM clock (MHz)", since=1)]]
    mem_clock_mhz: Required[Annotated[int | None, Key("memory clock (MHz)", since=1)]]
    temperature_c: Required[Annotated[float | None, Key("temperature (C)", since=1)]]
    power_w: Required[Annotated[float | None, Key("power draw (W)", since=1)]]
    throttle_reasons: Required[Annotated[list[str], Key("active throttle reasons", since=1)]]


class DeviceReadings(TypedDict):
    """The GPUs' state before the first and after the last timed round."""

    before: Required[Annotated[list[GpuState], Key("per GPU, before the rounds", since=1)]]
    after: Required[Annotated[list[GpuState], Key("per GPU, after the rounds", since=1)]]


class Energy(TypedDict):
    """Energy and device state around the timed rounds (``bench.measure.energy``)."""

    energy_j: Required[Annotated[Annotated[float, Min(0)] | None, Key(
        "joules per generation; null with energy_unavailable")]]
    energy_source: Required[Annotated[Literal["nvml", "rapl"] | None, Key("the counter read; null without one")]]
    energy_unavailable: NotRequired[Annotated[str, Key("why energy_j (or env_steps_per_joule) is null")]]
    energy_window_s: NotRequired[Annotated[list[Seconds | None], Key(
        "seconds between the two energy readings, per worker")]]
    energy_window_rounds: NotRequired[Annotated[list[Count | None], Key(
        "generations between the two energy readings, per worker")]]
    device_state: NotRequired[Annotated[DeviceReadings | list[DeviceReadings | None], Key(
        "NVIDIA GPUs' clocks, temperature, power, throttle reasons (per worker where several)")]]
    throttle_reasons: NotRequired[Annotated[list[str], Key("thermal or power throttling seen during the rounds")]]
    device_state_unavailable: NotRequired[Annotated[str, Key("the NVML calls that failed, with their errors")]]


class Stability(TypedDict):
    """Whether the runtime figure held steady (:mod:`results_format.stability`)."""

    unstable: Required[Annotated[list[str], Key(
        "the reasons the figure is unstable (iqr, spread, rounds, workers, throttled); [] when stable",
        what="a list of reason strings")]]


class Workers(TypedDict):
    """The processes that measured the case (``bench.plugin.session``)."""

    worker_pids: Required[Annotated[list[int], Key("the measuring processes' ids, one per worker (or the pytest process)")]]
    jax_platforms: Required[Annotated[str | None, Key("JAX_PLATFORMS the measuring process ran with")]]
    cpu_affinity: Required[Annotated[list[Annotated[int, Min(0)]] | None, Key(
        "the CPUs the measuring process could run on")]]
    backend_init_s: NotRequired[Annotated[list[Seconds], Key("seconds each worker's backend took to start")]]
    worker_start: NotRequired[Annotated[str, Key("how the workers started: fork server, interpreter (or both)")]]
    worker_start_why: NotRequired[Annotated[str, Key("why an interpreter started instead of the fork server")]]


class CompileRow(CaseSettings, DeviceFacts, CompileFigures, Rates, Memory, Workers):
    """``extra_info`` of a compile row."""


class RuntimeRow(CaseSettings, DeviceFacts, RuntimeFigures, Rates, Memory, GenerationMemory, Energy, Stability,
                 Workers):
    """``extra_info`` of a runtime row."""


ROWS = {"compile": CompileRow, "runtime": RuntimeRow}
# The records of a row, in the order the docs and the JSON Schema list them.
RECORDS = (CaseSettings, DeviceFacts, CompileFigures, RuntimeFigures, Rates, Memory, GenerationMemory, Energy,
           Stability, Workers)
ROW_RECORDS = {
    "compile": (CaseSettings, DeviceFacts, CompileFigures, Rates, Memory, Workers),
    "runtime": (CaseSettings, DeviceFacts, RuntimeFigures, Rates, Memory, GenerationMemory, Energy, Stability, Workers),
}
