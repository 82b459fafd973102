"""The benchmark grid: ``pytest bench``.

Each case times ONE ask-eval-tell generation of the esperf workload (or, with
``--es-breakdown``, one part of it: ids ending in -ask, -eval, -tell) on one device or a
set of devices, in the compile or the runtime phase. Cases come from the ``--es-*`` options
(:mod:`bench.plugin.grid`); a case fails when it cannot give an honest figure (see ``bench.measure.rounds``).
"""


def test_generation(es_case, es_run):
    es_run(es_case)
