"""A results file: pytest-benchmark's JSON with esperf's parts (the rows' ``extra_info`` are
:mod:`results_format.rows`).

pytest-benchmark writes ``machine_info``, ``commit_info``, ``benchmarks`` (one entry per case:
``name``, ``params``, ``stats``, ...), ``datetime`` and ``version``; esperf adds its keys to
``machine_info`` (``bench.measure.machine`` and ``bench.plugin.session``), each entry's
``extra_info`` and ``params``, and the top-level ``esperf`` block. Only the parts esperf
writes or reads are declared here; any other key is allowed.
"""
from typing import Any, Literal, NotRequired, Required, TypedDict

from results_format.keys import Annotated, Bytes, Count, Key, Min, Seconds
from results_format.rows import CaseSettings, ISOLATIONS, PARTS, PHASES
from results_format.version import SCHEMA_VERSION, SUPPORTED_VERSIONS

RUNS = ("measured", "smoke")
# Version-1 stats hold the raw samples, or a median at least (both are required from version 2).
SAMPLES_IN = ("data", "median")


class Stats(TypedDict):
    """pytest-benchmark's statistics of a row's rounds (seconds); ``data`` the raw rounds."""

    data: Required[Annotated[Annotated[list[Seconds], Min(1)], Key("every round's seconds, in order (at least one)")]]
    median: Required[Annotated[Seconds, Key("median seconds per round")]]
    rounds: Required[Annotated[Count, Key("the number of rounds")]]
    min: NotRequired[Annotated[Seconds, Key("fastest round")]]
    max: NotRequired[Annotated[Seconds, Key("slowest round")]]
    mean: NotRequired[Annotated[Seconds, Key("mean seconds per round")]]
    stddev: NotRequired[Annotated[float, Key("standard deviation of the rounds")]]
    q1: NotRequired[Annotated[Seconds, Key("first quartile")]]
    q3: NotRequired[Annotated[Seconds, Key("third quartile")]]
    iqr: NotRequired[Annotated[float, Key("q3 - q1")]]
    iqr_outliers: NotRequired[Annotated[Annotated[int, Min(0)], Key("rounds outside 1.5 IQR of the quartiles")]]
    stddev_outliers: NotRequired[Annotated[Annotated[int, Min(0)], Key("rounds more than a stddev from the mean")]]
    outliers: NotRequired[Annotated[str, Key("stddev_outliers;iqr_outliers")]]
    ld15iqr: NotRequired[Annotated[Seconds, Key("the fastest round within 1.5 IQR below q1")]]
    hd15iqr: NotRequired[Annotated[Seconds, Key("the slowest round within 1.5 IQR above q3")]]
    ops: NotRequired[Annotated[float, Key("1 / mean")]]
    total: NotRequired[Annotated[Seconds, Key("the rounds' seconds summed")]]
    iterations: NotRequired[Annotated[Count, Key("calls per round (1: esperf gives whole rounds)")]]


class Params(TypedDict):
    """The case's pytest parameters (``bench.case.Case.params``): the grid's dimensions and every
    setting of its workload, so that ``params`` identify the case."""

    phase: Required[Annotated[Literal[PHASES], Key("as extra_info.phase")]]
    strategy: Required[Annotated[str, Key("as extra_info.strategy")]]
    env: Required[Annotated[str, Key("as extra_info.env")]]
    popsize: Required[Annotated[Count, Key("as extra_info.popsize")]]
    evals: Required[Annotated[Count, Key("as extra_info.num_evals")]]
    device: Required[Annotated[str, Key("as extra_info.device")]]
    part: Required[Annotated[Literal[PARTS], Key("as extra_info.part")]]
    impl: Required[Annotated[str, Key("as extra_info.impl")]]
    hidden: Required[Annotated[Count, Key("as extra_info.hidden")]]
    episode_length: Required[Annotated[Count | None, Key("--es-episode-length; null: the env's own length")]]
    unroll: Required[Annotated[Count, Key("as extra_info.unroll")]]
    pop_chunk: Required[Annotated[str, Key("as extra_info.pop_chunk_setting")]]
    isolation: Required[Annotated[Literal[ISOLATIONS], Key("as extra_info.isolation")]]


class Benchmark(TypedDict):
    """One case's entry in ``benchmarks`` (pytest-benchmark's, with esperf's ``extra_info``: a
    :class:`results_format.rows.CompileRow` or :class:`results_format.rows.RuntimeRow` by its phase)."""

    name: Required[Annotated[str, Key("the pytest item: test_generation[<case id>]")]]
    params: Required[Annotated[Params, Key("the case's parameters")]]
    stats: Required[Annotated[Stats, Key("the rounds' statistics", since=1)]]
    extra_info: Required[Annotated[dict, Key("esperf's keys of the case (a CompileRow or a RuntimeRow)", since=1)]]
    group: NotRequired[Annotated[str | None, Key("the cases a table sets side by side")]]
    fullname: NotRequired[Annotated[str, Key("the pytest node id")]]
    param: NotRequired[Annotated[str, Key("the case id (the item's parameter id)")]]
    options: NotRequired[Annotated[dict, Key("pytest-benchmark's options block, as esperf sets it")]]


class FailedCase(TypedDict):
    """A case that failed (``esperf.failed``): its settings and the error."""

    name: Required[Annotated[str, Key("the pytest item")]]
    when: Required[Annotated[str, Key("the pytest phase it failed in (setup, call)")]]
    extra_info: Required[Annotated[CaseSettings, Key("the case's settings")]]
    error: Required[Annotated[str, Key("the error in one line")]]


class EsperfBlock(TypedDict):
    """The top-level ``esperf`` block."""

    schema_version: Required[Annotated[Literal[SUPPORTED_VERSIONS], Key("the version of esperf's keys", since=1)]]
    run: Required[Annotated[Literal[RUNS], Key("measured, or smoke: a --benchmark-disable run that timed nothing")]]
    failed: Required[Annotated[list[FailedCase], Key("the cases that failed, each once")]]


def esperf_block(run: str, failed: list[FailedCase]) -> EsperfBlock:
    """The ``esperf`` block of a file this version writes: ``run`` (one of :data:`RUNS`) and the failed cases."""
    if run not in RUNS:
        raise ValueError(f"run {run!r} is not one of {', '.join(RUNS)}")
    return EsperfBlock(schema_version=SCHEMA_VERSION, run=run, failed=list(failed))


class DeviceInfo(TypedDict):
    """One jax device of the host (``bench.measure.machine.device_info``)."""

    id: Required[Annotated[str, Key("platform:id (cpu:0)", since=1)]]
    kind: Required[Annotated[str, Key("jax's device_kind", since=1)]]
    platform: Required[Annotated[str, Key("jax's platform", since=1)]]
    process_index: NotRequired[Annotated[int, Key("the jax process that holds it")]]
    allocator_limit_bytes: NotRequired[Annotated[Bytes | None, Key("jax's allocator pool (GPU/TPU); null on a CPU")]]


class MachineInfo(TypedDict):
    """esperf's keys in pytest-benchmark's ``machine_info`` (``bench.measure.machine.machine_info``
    and ``bench.plugin.session``); pytest-benchmark's own keys (``node``, ``cpu``, ...) beside them."""

    esperf_schema_version: Required[Annotated[Literal[SUPPORTED_VERSIONS], Key(
        "the version of esperf's keys (a version-1 file has it here or in esperf.schema_version)")]]
    hostname: Required[Annotated[str, Key("the host's name")]]
    cpu_model: Required[Annotated[str, Key("the CPU's model name")]]
    physical_cores: Required[Annotated[Count | None, Key("physical CPU cores (psutil); null where unknown")]]
    logical_cores: Required[Annotated[Count | None, Key("logical CPUs (psutil)")]]
    ram_bytes: Required[Annotated[Bytes, Key("the host's memory")]]
    os: Required[Annotated[str, Key("platform.platform()")]]
    python: Required[Annotated[str, Key("the Python version")]]
    jax_version: Required[Annotated[str, Key("jax's version")]]
    jaxlib_version: Required[Annotated[str, Key("jaxlib's version")]]
    backend_platform_version: Required[Annotated[dict[str, str | None], Key("each platform's runtime (CUDA, libtpu)")]]
    process_index: Required[Annotated[Annotated[int, Min(0)], Key("this jax process")]]
    process_count: Required[Annotated[Count, Key("jax processes of the run")]]
    devices: Required[Annotated[list[DeviceInfo], Key("the host's jax devices")]]
    xla_flags: Required[Annotated[str, Key("XLA_FLAGS")]]
    jax_env: Required[Annotated[dict[str, str], Key("the JAX_* environment variables")]]
    blas_threads: Required[Annotated[list[dict] | None, Key("the BLAS pools as the measuring processes set them")]]
    # the notices of an unfit machine: any JSON value, since a reader drops malformed entries and
    # never refuses a file for them (the figures stand)
    unused_accelerators: Required[Annotated[Any, Key(
        "accelerators the OS shows that jax does not use: a list of {platform, name, why}")]]
    backend_errors: Required[Annotated[Any, Key("jax backends that failed to start: {backend: error}")]]
    system_check: Required[Annotated[Any, Key(
        "python -m bench.doctor's checks at the run's start: a list of {check, status, detail, fix}")]]
    cold_caches: Required[Annotated[list[str], Key("what the workers changed to start with cold caches")]]
    isolation: Required[Annotated[Literal[ISOLATIONS], Key("--es-isolate of the run")]]
    cpu_cores: NotRequired[Annotated[dict, Key("the whole CPU's cores (count, how counted)")]]
    measured_peaks: NotRequired[Annotated[list[dict], Key("--es-peak-flops auto: each device set's measured peaks")]]
    measured_peaks_error: NotRequired[Annotated[str, Key("why measured_peaks is incomplete")]]
    workers: NotRequired[Annotated[dict, Key("how the worker processes started (--es-isolate process)")]]
    processes: NotRequired[Annotated[list[dict], Key("every process's machine info (jax.distributed)")]]


class ResultsFile(TypedDict):
    """A whole results file (``pytest bench --benchmark-json=PATH``)."""

    machine_info: Required[Annotated[MachineInfo, Key("the host, its software and devices", since=1)]]
    benchmarks: Required[Annotated[list[Benchmark], Key("one entry per measured case", since=1)]]
    esperf: Required[Annotated[EsperfBlock, Key("esperf's block: schema version, run, failed cases")]]
    commit_info: NotRequired[Annotated[dict, Key("pytest-benchmark's commit (history orders runs by it)")]]
    datetime: NotRequired[Annotated[str, Key("when the run ended (ISO 8601)")]]
    version: NotRequired[Annotated[str, Key("pytest-benchmark's version")]]

