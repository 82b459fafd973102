"""A stand-in for pytest-xdist (``-p fake_xdist``), which is not installed here: its options as the
real plugin registers them (``-n``/``--numprocesses`` with dest ``numprocesses``, ``--dist`` with
default ``no``), its rule that ``-n N`` turns ``--dist no`` into ``load`` (xdist's
``pytest_cmdline_main``), and with ``$FAKE_XDIST_WORKER`` set, the ``config.workerinput`` that an
xdist worker process has from before ``pytest_configure``. It starts no process: the test of
esperf's refusal needs only what esperf reads."""
import os

import pytest


def numprocesses(value: str):
    """``-n``'s value as xdist parses it: a count, or ``auto`` / ``logical``."""
    return value if value in ("auto", "logical") else int(value)


def pytest_addoption(parser):
    group = parser.getgroup("xdist", "distributed and subprocess testing")
    group._addoption("-n", "--numprocesses", dest="numprocesses", metavar="numprocesses", action="store",
                     type=numprocesses, default=None, help="Shortcut for '--dist=load --tx=NUM*popen' (stand-in)")
    group.addoption("--dist", metavar="distmode", action="store", default="no",
                    choices=["each", "load", "loadscope", "loadfile", "loadgroup", "worksteal", "no"],
                    help="set mode for distributing tests to exec environments (stand-in)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    if config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "load"
    if os.environ.get("FAKE_XDIST_WORKER"):
        config.workerinput = {"workerid": os.environ["FAKE_XDIST_WORKER"], "workercount": 2}
