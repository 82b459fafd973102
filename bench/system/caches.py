"""The caches from outside that can make a fresh process warm, and keeping them out of esperf's workers.

A compile round is honest only from cold: XLA's in-process caches are left behind by a fresh
process, but two caches live on disk and survive it -- XLA:GPU's autotune and kernel caches
(named by flags in ``XLA_FLAGS``) and the CUDA driver's JIT cache (``~/.nv/ComputeCache``).
``python -m bench.doctor`` reports them (:mod:`bench.system.checks`); every worker applies
:func:`cold_caches` before its backend starts. No jax here.
"""
from __future__ import annotations

import os


# XLA flags that let a fresh process start warm: an autotune or kernel cache read from disk
CACHE_FLAGS = ("xla_gpu_per_fusion_autotune_cache_dir", "xla_gpu_load_autotune_results_from",
               "xla_gpu_kernel_cache_file", "xla_gpu_experimental_autotune_cache_mode")


def cold_caches(environ=None) -> list[str]:
    """Keep the caches from outside out of a fresh process, before its backend starts: the
    CUDA driver's JIT cache (``~/.nv/ComputeCache``: ``CUDA_CACHE_DISABLE=1`` unless the user
    set it) and :data:`CACHE_FLAGS` in ``XLA_FLAGS`` (dropped). Returns what was changed
    (recorded in ``machine_info.cold_caches``), ``[]`` when nothing was."""
    environ = os.environ if environ is None else environ
    changes = []
    if "CUDA_CACHE_DISABLE" not in environ:
        environ["CUDA_CACHE_DISABLE"] = "1"
        changes.append("CUDA_CACHE_DISABLE=1")
    flags = environ.get("XLA_FLAGS", "").split()
    kept = [f for f in flags if f.lstrip("-").split("=", 1)[0] not in CACHE_FLAGS]
    if len(kept) != len(flags):
        changes += [f"XLA_FLAGS without {f}" for f in flags if f not in kept]
        environ["XLA_FLAGS"] = " ".join(kept)
    return changes
