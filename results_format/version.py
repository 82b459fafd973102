"""The version of esperf's additions to pytest-benchmark's JSON.

Written twice per file: ``machine_info.esperf_schema_version`` and ``esperf.schema_version``.
Additive keys keep the version; a changed meaning, or a key that becomes required, bumps it.

- 1: the case settings impl, part, phase, strategy, env, popsize, num_evals, hidden, episode_length;
- 2: every setting that changes a figure is recorded per row (``unroll``, ``pop_chunk_setting``,
  ``isolation``) and in ``params``, and joins the case's identity (:mod:`results_format.identity`);
  every key the writer always writes is required (the records of :mod:`results_format.rows` and
  :mod:`results_format.files` say which, and since which version).
"""
from __future__ import annotations

SCHEMA_VERSION = 2
# Versions a reader accepts: older files read with the defaults of the settings they lack
# (results_format.identity.CASE_DEFAULTS).
SUPPORTED_VERSIONS = (1, 2)
