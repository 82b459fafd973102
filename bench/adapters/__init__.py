"""esperf's adapters of the libraries people use: ``evosax:<Name>`` strategies and
``gymnax:<env-id>`` envs, run inside esperf's own workload (:mod:`bench.plugins.resolve`
finds them by their prefix). Each imports its library only when a name is resolved."""


def library_source(library: str) -> str:
    """``<library> <version>`` of the installed ``library`` (a row's ``strategy_source`` /
    ``env_source``); ValueError with the install line where it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{library} {version(library)}"
    except PackageNotFoundError:
        raise ValueError(f"{library} is not installed; pip install -e \".[peers]\"") from None
