"""What ``.ci/device-check`` leaves in OUT_DIR, as the summary reads it: the steps and their titles,
the bench parts of each step (``json/<part>.json``), the archive and the exit status of a part cut
at its deadline."""
from __future__ import annotations


ARCHIVE = "device-check.tar.gz"  # where .ci/device-check puts everything but summary.md and steps.json
STEP_TITLES = {
    0: "probe",
    1: "doctor",
    2: "runtime: fork server vs interpreter, and JAX_PLATFORMS unset",
    3: "compile rounds: process vs --es-isolate none",
    4: "large populations",
    5: "small populations: unroll and command buffers",
    6: "harness tests on the device",
    7: "report",
}
# JSON files per step (json/<name>.json), in table order
STEP2 = ("fork", "interpreter")
UNSET = "platforms-unset"  # step 2's part with JAX_PLATFORMS unset
STEP3 = ("compile-process", "compile-none")
STEP5 = ("unroll1", "unroll4", "command-buffer")
BENCH_PARTS = STEP2 + (UNSET,) + STEP3 + ("large",) + STEP5
TIMEOUT_RC = 124
