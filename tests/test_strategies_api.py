"""The public contract of ``strategies``: names, make, defaults, errors, jit/vmap, NaN/inf, dtypes."""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import strategies

NAMES = ("cma_es", "openai_es", "simple_ga")


def sphere(x):
    return jnp.sum(x * x, axis=-1)


def test_names():
    assert strategies.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_make_and_defaults(name):
    es = strategies.make(name, num_dims=10)
    assert (es.name, es.num_dims, es.popsize) == (name, 10, 10)  # 4 + floor(3 ln 10) = 10
    assert es.sigma_init == {"cma_es": 0.5, "openai_es": 0.02, "simple_ga": 0.1}[name]
    es2 = strategies.make(name, num_dims=300, popsize=None, sigma_init=2.0)
    assert es2.popsize == 4 + math.floor(3 * math.log(300)) + (1 if name == "openai_es" else 0)  # 21 (-> 22)
    assert es2.sigma_init == 2.0
    # Frozen and hashable: usable as a static jit argument.
    assert hash(es) == hash(strategies.make(name, num_dims=10)) and es == strategies.make(name, num_dims=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        es.popsize = 3


@pytest.mark.parametrize("name", NAMES)
def test_strategies_follow_the_protocols(name):
    """The classes carry their defaults (make is generic) and satisfy strategies.api's protocols."""
    cls = strategies._STRATEGIES[name]
    es = strategies.make(name, num_dims=7)
    assert es.popsize == cls.default_popsize(7) == (10 if name == "openai_es" else 9)
    assert es.sigma_init == cls.default_sigma_init
    assert isinstance(es, strategies.Strategy)
    state = es.init(jax.random.PRNGKey(0), jnp.zeros(7))
    assert isinstance(state, strategies.StrategyState)


def test_options_reach_the_strategy():
    es = strategies.make("openai_es", num_dims=3, popsize=4, learning_rate=0.2, weight_decay=0.0, b1=0.5)
    assert (es.learning_rate, es.weight_decay, es.b1) == (0.2, 0.0, 0.5)
    ga = strategies.make("simple_ga", num_dims=3, popsize=50, elite_ratio=0.2, sigma_decay=0.9, sigma_min=0.01)
    assert (ga.elite_ratio, ga.sigma_decay, ga.sigma_min, ga.num_parents) == (0.2, 0.9, 0.01, 10)
    assert strategies.make("simple_ga", num_dims=3, popsize=5, elite_ratio=0.01).num_parents == 1


def test_make_docstring_documents_every_option():
    doc = strategies.make.__doc__
    for name in NAMES:
        assert name in doc
        for option in strategies._STRATEGIES[name].options:
            assert f"{option}=" in doc, option


@pytest.mark.parametrize(
    "name,kwargs,message",
    [
        ("cmaes", {}, r"unknown strategy 'cmaes'; choose one of cma_es, openai_es, simple_ga"),
        ("cma_es", {"popsize": 0}, r"popsize=0 is not allowed; it must be an int >= 1"),
        ("openai_es", {"popsize": -4}, r"popsize=-4 is not allowed"),
        ("simple_ga", {"popsize": 2.5}, r"popsize=2.5 is not allowed"),
        ("cma_es", {"popsize": 1}, r"popsize=1 is not allowed; it must be an int >= 2"),
        ("simple_ga", {"popsize": 1}, r"popsize=1 is not allowed; it must be an int >= 2"),
        ("openai_es", {"popsize": 7}, r"popsize=7 is not allowed; mirrored sampling needs an even popsize"),
        ("cma_es", {"num_dims": 0}, r"num_dims=0 is not allowed; it must be an int >= 1"),
        ("simple_ga", {"num_dims": -3}, r"num_dims=-3 is not allowed"),
        ("cma_es", {"sigma_init": 0.0}, r"sigma_init=0.0 is not allowed; it must be a finite number in \(0, inf\]"),
        ("openai_es", {"sigma_init": -1}, r"sigma_init=-1 is not allowed"),
        ("simple_ga", {"sigma_init": float("nan")}, r"sigma_init=nan is not allowed"),
        ("cma_es", {"sigma_init": True}, r"sigma_init=True is not allowed"),
        ("cma_es", {"learning_rate": 0.1}, r"unknown option 'learning_rate' for cma_es; allowed options: none"),
        ("openai_es", {"elite_ratio": 0.1}, r"unknown option 'elite_ratio' for openai_es; allowed options: learning_rate"),
        ("openai_es", {"learning_rate": 0.0}, r"learning_rate=0.0 is not allowed"),
        ("openai_es", {"weight_decay": -0.1}, r"weight_decay=-0.1 is not allowed"),
        ("openai_es", {"b2": 1.0}, r"b2=1.0 is not allowed; it must be a finite number in \[0, 1\)"),
        ("simple_ga", {"elite_ratio": 0.0}, r"elite_ratio=0.0 is not allowed; it must be a finite number in \(0, 1\]"),
        ("simple_ga", {"elite_ratio": 1.5}, r"elite_ratio=1.5 is not allowed"),
        ("simple_ga", {"sigma_decay": 1.1}, r"sigma_decay=1.1 is not allowed"),
        ("simple_ga", {"sigma_min": -1.0}, r"sigma_min=-1.0 is not allowed"),
    ],
)
def test_make_rejects_bad_input(name, kwargs, message):
    kwargs = {"num_dims": 4, "popsize": 6, **kwargs}
    with pytest.raises(ValueError, match=message):
        strategies.make(name, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_methods_reject_bad_shapes(name):
    es = strategies.make(name, num_dims=4, popsize=6)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"mean has shape \(5,\); it must be \(num_dims,\) = \(4,\)"):
        es.init(key, jnp.zeros(5))
    with pytest.raises(ValueError, match=r"mean has shape \(4, 1\)"):
        jax.jit(es.init)(key, jnp.zeros((4, 1)))
    state = es.init(key, jnp.zeros(4))
    other = strategies.make(name, num_dims=3, popsize=6)
    with pytest.raises(ValueError, match=r"state.mean has shape \(4,\); it must be \(num_dims,\) = \(3,\)"):
        other.ask(key, state)
    with pytest.raises(ValueError, match=r"state.mean has shape \(2, 4\)"):
        es.ask(key, jax.vmap(es.init)(jax.random.split(key, 2), jnp.zeros((2, 4))))
    x, state = es.ask(key, state)
    with pytest.raises(ValueError, match=r"x has shape \(5, 4\); it must be \(popsize, num_dims\) = \(6, 4\)"):
        es.tell(state, x[:5], jnp.zeros(6))
    with pytest.raises(ValueError, match=r"x has shape \(6, 3\)"):
        jax.jit(es.tell)(state, x[:, :3], jnp.zeros(6))
    with pytest.raises(ValueError, match=r"fitness has shape \(6, 1\); it must be \(popsize,\) = \(6,\)"):
        es.tell(state, x, jnp.zeros((6, 1)))


@pytest.mark.parametrize("name", NAMES)
def test_state_fields(name):
    es = strategies.make(name, num_dims=5, popsize=8)
    state = es.init(jax.random.PRNGKey(0), jnp.arange(5.0))
    assert state.mean.shape == state.best_member.shape == (5,)
    assert state.best_fitness.shape == () and float(state.best_fitness) == math.inf
    assert state.generation.dtype == jnp.int32 and int(state.generation) == 0
    x, state = es.ask(jax.random.PRNGKey(1), state)
    assert x.shape == (8, 5)
    state = es.tell(state, x, sphere(x))
    assert int(state.generation) == 1
    assert float(state.best_fitness) == float(jnp.min(sphere(x)))
    if name == "cma_es":
        assert state.sigma.shape == () and state.C.shape == (5, 5)


@pytest.mark.parametrize("name", NAMES)
def test_jit_and_vmap_over_seeds(name):
    """vmap(init/ask/tell) over seeds equals the per-seed computation; methods fuse into one jit."""
    seeds, n = 3, 4
    es = strategies.make(name, num_dims=n, popsize=6, sigma_init=0.3)
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    means = jnp.arange(seeds * n, dtype=jnp.float32).reshape(seeds, n) / 10

    @jax.jit
    def generations(keys, means):
        """init, then 5 fused ask -> evaluate -> tell steps, vmapped over seeds."""
        states = jax.vmap(es.init)(keys, means)

        def step(states, k):
            ks = jax.random.split(k, seeds)
            x, states = jax.vmap(es.ask)(ks, states)
            return jax.vmap(es.tell)(states, x, sphere(x)), x

        return jax.lax.scan(step, states, jax.random.split(keys[0], 5))

    states, xs = generations(keys, means)
    assert xs.shape == (5, seeds, 6, n)
    assert states.mean.shape == (seeds, n) and states.generation.tolist() == [5] * seeds

    # The same thing seed by seed, without vmap/scan/jit-fusion.
    step_keys = jax.random.split(keys[0], 5)
    ask, tell = jax.jit(es.ask), jax.jit(es.tell)
    for s in range(seeds):
        state = es.init(keys[s], means[s])
        for g in range(5):
            x, state = ask(jax.random.split(step_keys[g], seeds)[s], state)
            np.testing.assert_allclose(x, xs[g, s], rtol=2e-5, atol=2e-5)
            state = tell(state, x, sphere(x))
        np.testing.assert_allclose(state.mean, states.mean[s], rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(state.best_fitness, states.best_fitness[s], rtol=2e-5)
    # Different seeds really differ.
    assert not np.allclose(xs[0, 0] - means[0], xs[0, 1] - means[1])


@pytest.mark.parametrize("name", NAMES)
def test_typed_keys(name):
    """New-style ``jax.random.key`` keys give the same draws as raw uint32 keys of the same seed
    (both are threefry), and another seed gives other draws."""
    es = strategies.make(name, num_dims=3, popsize=4)
    ask, tell = jax.jit(es.ask), jax.jit(es.tell)

    def run(make_key, seed):
        state = es.init(make_key(0), jnp.zeros(3))
        xs = []
        for g in range(3):
            x, state = ask(make_key(seed + g), state)
            state = tell(state, x, sphere(x))
            xs.append(np.asarray(x))
        return np.stack(xs), state

    typed, typed_state = run(jax.random.key, 1)
    raw, raw_state = run(jax.random.PRNGKey, 1)
    assert typed.shape == (3, 4, 3)
    np.testing.assert_array_equal(typed, raw)
    for a, b in zip(jax.tree.leaves(typed_state), jax.tree.leaves(raw_state)):
        np.testing.assert_array_equal(a, b)
    other, _ = run(jax.random.key, 2)
    assert not np.any(np.all(other[0] == typed[0], axis=-1)[1:])  # row 0 of simple_ga is the elite


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_fitness_is_the_worst(name, bad):
    """A NaN/+inf/-inf fitness acts exactly like the worst finite one and never becomes the best."""
    n, N = 4, 8
    es = strategies.make(name, num_dims=n, popsize=N, sigma_init=0.5)
    state = es.init(jax.random.PRNGKey(0), jnp.ones(n))
    x, state = es.ask(jax.random.PRNGKey(1), state)
    f = sphere(x)
    worst = int(jnp.argmax(f))
    reference = jax.jit(es.tell)(state, x, f)
    got = jax.jit(es.tell)(state, x, f.at[worst].set(bad))
    for leaf_ref, leaf in zip(jax.tree.leaves(reference), jax.tree.leaves(got)):
        np.testing.assert_array_equal(leaf, leaf_ref)
    for leaf in jax.tree.leaves(got):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
    assert float(got.best_fitness) == float(jnp.min(f))


@pytest.mark.parametrize("name", NAMES)
def test_all_nonfinite_fitness(name):
    """A generation with no finite fitness leaves best_fitness at +inf and the state finite."""
    n, N = 4, 6
    es = strategies.make(name, num_dims=n, popsize=N, sigma_init=0.5)
    state = es.init(jax.random.PRNGKey(0), jnp.ones(n))
    tell = jax.jit(es.tell)
    for i in range(3):
        x, state = es.ask(jax.random.PRNGKey(i), state)
        state = tell(state, x, jnp.array([np.nan, np.inf, -np.inf, np.nan, -np.inf, np.inf]))
    assert float(state.best_fitness) == math.inf
    np.testing.assert_array_equal(state.best_member, jnp.ones(n))
    for leaf in jax.tree.leaves(state._replace(best_fitness=0.0)):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
    # Then a finite fitness is taken as the best.
    x, state = es.ask(jax.random.PRNGKey(9), state)
    f = sphere(x)
    state = tell(state, x, f.at[0].set(-np.inf))
    assert float(state.best_fitness) == float(jnp.min(f[1:]))


def _float_leaves(state):
    return [leaf for leaf in jax.tree.leaves(state) if jnp.issubdtype(leaf.dtype, jnp.floating)]


@pytest.mark.parametrize("name", NAMES)
def test_dtypes(name):
    es = strategies.make(name, num_dims=3, popsize=4)

    def run(mean):
        state = es.init(jax.random.PRNGKey(0), mean)
        ask = jax.jit(es.ask)
        x, state = ask(jax.random.PRNGKey(1), state)
        state = jax.jit(es.tell)(state, x, sphere(x))
        x2, _ = ask(jax.random.PRNGKey(2), state)
        return x2, state

    x, state = run(jnp.zeros(3))
    assert x.dtype == jnp.float32
    assert {leaf.dtype for leaf in _float_leaves(state)} == {jnp.dtype(jnp.float32)}
    assert state.generation.dtype == jnp.int32
    with jax.enable_x64(True):
        x, state = run(jnp.zeros(3))
        assert x.dtype == jnp.float64
        assert {leaf.dtype for leaf in _float_leaves(state)} == {jnp.dtype(jnp.float64)}
        assert state.generation.dtype == jnp.int32
        # The mean's dtype rules: a float32 mean stays float32 even with x64 on.
        x, state = run(jnp.zeros(3, jnp.float32))
        assert x.dtype == jnp.float32
        assert {leaf.dtype for leaf in _float_leaves(state)} == {jnp.dtype(jnp.float32)}


def test_select_rows_copies_selected_rows_exactly_and_never_reads_dropped_ones():
    """A segment sum, not a one-hot product: inf/NaN in dropped rows cannot poison the result,
    and a selected row (non-finite entries included) comes out bit for bit."""
    from strategies.base import select_rows

    x = jnp.asarray(
        [[1.5, -2.25, 3.0], [jnp.inf, jnp.nan, -jnp.inf], [7.0, 8.0, 9.0], [0.1, jnp.nan, 1e-30]], jnp.float32
    )
    out = select_rows(x, jnp.asarray([5, 1, 0, 3]), 2)  # rows 0 and 3 are dropped (slots >= 2)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(x)[[2, 1]])
    out = select_rows(x, jnp.asarray([2, 9, 1, 0]), 3)  # slot 2 <- row 0, slot 0 <- row 3 (NaN kept)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(x)[[3, 2, 0]])


def test_update_best_ignores_nonfinite_members_elsewhere():
    from strategies.base import update_best

    x = jnp.asarray([[jnp.nan, jnp.inf], [1.0, 2.0], [-jnp.inf, 0.0]], jnp.float32)
    member, f = update_best(jnp.zeros(2), jnp.inf, x, jnp.asarray([jnp.nan, 3.0, 4.0]))
    np.testing.assert_array_equal(np.asarray(member), [1.0, 2.0])
    assert float(f) == 3.0
    member, f = update_best(member, f, x, jnp.asarray([jnp.nan, 3.0, 3.0]))  # a tie keeps the older member
    np.testing.assert_array_equal(np.asarray(member), [1.0, 2.0])
