"""esperf's results format: the JSON that ``pytest bench`` writes and ``reports`` reads.

Defined once, here, in a package that both sides import and neither owns: ``bench`` (the
writer) builds its rows from it, ``reports`` (the reader) validates every file against it,
and the published JSON Schema (:mod:`results_format.json_schema`) is generated from it.
Standard library only: the pytest process never loads pandas through it, and ``reports``
never loads jax.

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
