"""Is this machine fit to be measured: the accelerators jax does not use (:mod:`.accelerators`) and
the system checks of ``python -m bench.doctor`` (:mod:`.checks`; NVIDIA GPUs: :mod:`.gpu_checks`;
one check's result: :mod:`.check_result`)."""
