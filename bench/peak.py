"""``python -m bench.peak``: each device's own peak, measured -- float32 matmul FLOP/s and copy bandwidth.

The measurement (:mod:`bench.measure.peak`) runs in a fresh worker process with a deadline
(:mod:`bench.isolation.spawners`), as ``pytest bench --es-peak-flops auto`` runs it: this
process starts no jax backend. Prints a table, one row per device, or with ``--json`` the
list that ``machine_info.measured_peaks`` holds. Exit status: 0 measured, 1 the measurement
failed (one line says why), 2 a usage error, 3 an internal error (one line, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys

from bench.validate import parse_positive_int, split_list

PROG = "python -m bench.peak"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Measure each device's float32 matmul FLOP/s and copy bandwidth.")
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


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except Exception as err:  # noqa: BLE001 -- one line, and a code that is no verdict
        print(f"{PROG}: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_INTERNAL


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse printed the one-line usage error
        return EXIT_USAGE if stop.code else EXIT_OK
    try:
        rounds = parse_positive_int("--rounds", args.rounds)
        from bench.plugin.options import parse_seconds

        timeout = parse_seconds("--timeout", args.timeout)
        devices = split_list(args.devices) if args.devices is not None else None
        if devices == []:
            raise ValueError("--devices is empty; give device ids such as cpu:0 or gpu:all")
    except ValueError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE
    from bench.isolation.spawners import WorkerFailed, Workers
    from bench.measure.peak import peak_requests
    from bench.multi.cpu_cores import usable_cores

    try:
        cores = usable_cores(None if args.cpu_cores is None else parse_positive_int("--cpu-cores", args.cpu_cores))
    except ValueError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE
    whole = [f"cpu:{i}" for i in range(cores.count)]
    sets = []
    for token in devices if devices is not None else ["cpu:0", "cpu:all"]:
        if token == "cpu:all":
            sets.append((token, whole))
        elif token.startswith("cpu:") and token[4:].isdigit():
            if token not in whole:
                print(f"{PROG}: error: --devices {token}: not a CPU device of this machine; the whole CPU is "
                      f"{', '.join(whole)} (one device per core)", file=sys.stderr)
                return EXIT_USAGE
            sets.append((token, [token]))
        else:
            sets.append((token, None))  # resolved by the worker against the devices it sees
    requests = peak_requests(sets, one_core_reference=False)
    if devices is None:
        requests.append({"devices": None, "skip_cpu": True})  # every visible accelerator, each alone
    workers = Workers(blas_threads=1)
    peaks = []
    try:
        for request in requests:
            found = workers.run({"mode": "peak", **request, "rounds": rounds, "settings": {}}, timeout)
            peaks.extend(found["peaks"])
    except WorkerFailed as err:
        message = str(err)
        usage = "device set" in message or "not a visible device" in message
        print(f"{PROG}: {'error' if usage else 'failed'}: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_USAGE if usage else EXIT_FAILED
    finally:
        workers.close()
    print(json.dumps(peaks, indent=1) if args.json else "\n".join(format_table(peaks)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
