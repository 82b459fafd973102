"""The benchmark grid: ``pytest bench``.

Each case times ONE ask-eval-tell generation of the esperf workload (or, with
``--es-breakdown``, one part of it: ids ending in -ask, -eval, -tell) on one device, in the compile or the runtime
phase. Cases come from ``bench/conftest.py``'s grid options.
"""


def test_generation(es_case, es_run):
    info = es_run(es_case)
    if es_case.phase == "runtime":
        assert info["compile_events"] == 0
