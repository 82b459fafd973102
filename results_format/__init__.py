"""esperf's results format: the JSON that ``pytest bench`` writes and ``reports`` reads.

Defined once, here, in a package that both sides import and neither owns: ``bench`` (the
writer) builds its rows from it, ``reports`` (the reader) validates every file against it,
and the published JSON Schema (:mod:`results_format.json_schema`) is generated from it.
Standard library only: the pytest process never loads pandas through it, and ``reports``
never loads jax.

- :mod:`results_format.rows`: a row's ``extra_info``, typed records grouped by job (the case's
  settings, device facts, compile and runtime figures, rates, memory, energy, stability, workers);
- :mod:`results_format.files`: the rest of the file (``params``, ``stats``, the ``esperf`` block,
  failed cases, esperf's ``machine_info`` keys); :mod:`results_format.keys`: how a key is declared;
- :mod:`results_format.json_schema`: the published JSON Schema, generated from the records
  (``python -m results_format`` writes it, ``--check`` says whether it is stale);
- :mod:`results_format.validate`: the same rules in standard-library Python (``reports`` applies them);
- :mod:`results_format.version`: the schema version and the versions a reader accepts;
- :mod:`results_format.identity`: the settings that identify a case, and their defaults in
  files written before a setting was recorded;
- :mod:`results_format.stability`: the thresholds of an unstable runtime figure;
- :mod:`results_format.partial`: ``PATH.partial``, the file of finished cases;
- :mod:`results_format.peaks`: ``KIND=FLOPS`` peak figures;
- :mod:`results_format.units`: seconds as text;
- :mod:`results_format.exit_codes`: the exit statuses of every esperf command (the writer's and
  the reader's commands answer alike; docs/commands.md).
"""
