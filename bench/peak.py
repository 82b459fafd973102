"""``python -m bench.peak``: each device's own peak, measured -- float32 matmul FLOP/s and copy bandwidth.

The measurement (:mod:`bench.measure.peak`) runs in a fresh worker process with a deadline
(:mod:`bench.isolation.spawners`), as ``pytest bench --es-peak-flops auto`` runs it: this
process starts no jax backend. Prints a table, one row per device, or with ``--json`` the
list that ``machine_info.measured_peaks`` holds. Exit status (docs/commands.md): 0 measured,
1 the measurement failed (one line says why), 2 a usage error (one line naming the value: also a
device the worker does not see), 3 an internal error (one line naming the traceback's file).
"""
from __future__ import annotations

import json
import sys

from bench.cli import EXIT_OK, EXIT_USAGE, EXIT_VERDICT, Parser, command, say
from bench.validate import parse_positive_int, parse_seconds, split_list

PROG = "python -m bench.peak"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Measure each device's float32 matmul FLOP/s and copy bandwidth.")
    p.add_argument("--devices", default=None, metavar="IDS",
                   help="comma list of device ids or sets: cpu:0 (one core), cpu:all (the whole CPU: one device "
                   "per core), gpu:1, gpu:all (default: cpu:0, cpu:all and every visible accelerator)")
    p.add_argument("--cpu-cores", default=None, help="cores of the whole CPU (default: as pytest bench counts them)")
    p.add_argument("--rounds", default="5", help="timed rounds of each measurement; the figure is their median (default 5)")
    p.add_argument("--timeout", default="600", help="seconds the worker may take (default 600)")
    p.add_argument("--json", action="store_true", help="print the measured peaks as a JSON list")
    return p


def format_table(peaks: list[dict]) -> list[str]:
    """One line per device (set): id, kind, cores, matmul GFLOP/s (n), copy GB/s (MiB), rounds."""
    rows = [("device", "kind", "cores", "matmul GFLOP/s", "n", "copy GB/s", "copy MiB", "rounds")]
    for p in peaks:
        rows.append((p["device"], p["kind"], str(p.get("cores") or ""), f"{p['matmul_flops_per_s'] / 1e9:.1f}",
                     str(p["matmul_n"]),
                     f"{p['copy_bytes_per_s'] / 1e9:.1f}", f"{p['copy_bytes'] / 1024**2:g}", str(p["rounds"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]


def device_sets(devices: list[str] | None, whole: list[str]) -> list[tuple[str, list[str] | None]]:
    """(name, device ids) per requested token: ``cpu:all`` -> ``whole``, ``cpu:N`` -> itself (a
    ValueError when it is not one of ``whole``), anything else None (resolved by the worker)."""
    sets = []
    for token in devices if devices is not None else ["cpu:0", "cpu:all"]:
        if token == "cpu:all":
            sets.append((token, whole))
        elif token.startswith("cpu:") and token[4:].isdigit():
            if token not in whole:
                raise ValueError(f"--devices {token}: not a CPU device of this machine; the whole CPU is "
                                 f"{', '.join(whole)} (one device per core)")
            sets.append((token, [token]))
        else:
            sets.append((token, None))  # resolved by the worker against the devices it sees
    return sets


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rounds = parse_positive_int("--rounds", args.rounds)
        timeout = parse_seconds("--timeout", args.timeout)
        devices = split_list(args.devices) if args.devices is not None else None
        if devices == []:
            raise ValueError("--devices is empty; give device ids such as cpu:0 or gpu:all")
        from bench.multi.cpu_cores import usable_cores

        cores = usable_cores(None if args.cpu_cores is None else parse_positive_int("--cpu-cores", args.cpu_cores))
        sets = device_sets(devices, [f"cpu:{i}" for i in range(cores.count)])
    except ValueError as err:
        say(PROG, str(err))
        return EXIT_USAGE
    from bench.isolation.spawners import WorkerFailed, Workers
    from bench.measure.peak import peak_requests

    requests = peak_requests(sets, one_core_reference=False)
    if devices is None:
        requests.append({"devices": None, "skip_cpu": True})  # every visible accelerator, each alone
    workers = Workers(blas_threads=1)
    peaks = []
    try:
        for request in requests:
            found = workers.run({"mode": "peak", **request, "rounds": rounds, "settings": {}}, timeout)
            peaks.extend(found["peaks"])
    except WorkerFailed as err:  # a device the worker does not see is the user's error, else a failure
        say(PROG, str(err), "error" if err.bad_request else "failed")
        return EXIT_USAGE if err.bad_request else EXIT_VERDICT
    finally:
        workers.close()
    print(json.dumps(peaks, indent=1) if args.json else "\n".join(format_table(peaks)))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return command(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
