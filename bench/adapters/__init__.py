"""esperf's adapters of the libraries people use: ``evosax:<Name>`` strategies and
``gymnax:<env-id>`` envs, run inside esperf's own workload (:mod:`bench.plugins.resolve`
finds them by their prefix). Each imports its library only when a name is resolved."""
