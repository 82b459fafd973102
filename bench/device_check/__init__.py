"""What ``.ci/device-check`` runs in Python: the probe of the device and the plan of each part.

* :mod:`bench.device_check.probe` (jax, through :mod:`bench.isolation.spawners`): one worker's
  start, backend init, tiny compile and generation on the checked device;
* :mod:`bench.device_check.plan` (standard library only): each part's grid and deadline from
  the probe, within one budget (``ESPERF_DEVICE_CHECK_BUDGET_S``); a part that cannot fit is
  skipped with a line saying so.

``python -m bench.device_check probe|plan|check-env`` (:mod:`bench.device_check.__main__`).
"""
