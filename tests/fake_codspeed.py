"""A stand-in for pytest-codspeed (``-p fake_codspeed``): its ``--codspeed`` option, as the real
plugin registers it, so that the test of esperf's refusal needs no CodSpeed install."""


def pytest_addoption(parser):
    parser.getgroup("CodSpeed benchmarking").addoption(
        "--codspeed", action="store_true", default=False, help="Enable codspeed (stand-in)")
