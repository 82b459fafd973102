"""The same workload on evosax + gymnax, for side-by-side rows (``--es-impls evosax``).

This is the generation a user of those libraries writes: evosax's ``ask``/``tell``,
gymnax's ``reset``/``step`` (with its auto-reset) in a ``lax.scan`` of
``episode_length`` steps, vmapped over the shared evaluation episodes and over the
population, the MLP (obs -> hidden ReLU -> action) on each member's unflattened
parameters, fitness = -mean return, all in one jitted function. Same sizes, the same
number of scanned env steps, the same common-random-numbers protocol as esperf's
workload; only the implementation differs.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

import strategies
from bench.case import Case, Target
from bench.measure.flops import scan_flops_fn, xla_bytes_accessed

PEER_STRATEGIES = {"cma_es": "CMA_ES", "openai_es": "Open_ES", "simple_ga": "SimpleGA"}


def _import_peers():
    try:
        import evosax.algorithms as algorithms
        import gymnax
    except ImportError as err:
        raise RuntimeError(
            f"--es-impls evosax needs evosax and gymnax ({err}); install them with pip install -e \".[peers]\""
        ) from None
    return algorithms, gymnax


def peers_available() -> bool:
    try:
        _import_peers()
    except RuntimeError:
        return False
    return True


def evosax_target(case: Case, settings, sharding) -> Target:
    """A fused evosax + gymnax generation for ``case``, inputs placed with ``sharding``."""
    import optax

    if case.part != "generation":
        raise ValueError("the evosax peer has no ask/eval/tell breakdown")
    algorithms, gymnax = _import_peers()
    env, env_params = gymnax.make(case.env)
    obs_size = env.observation_space(env_params).shape[0]
    discrete = case.env == "CartPole-v1"
    out_size = env.num_actions if discrete else 1
    h = case.hidden
    num_params = (obs_size + 1) * h + (h + 1) * out_size
    length = case.episode_length or int(env_params.max_steps_in_episode)
    solution = jnp.zeros(num_params)

    # The peer runs esperf's hyperparameters, from esperf's own definition of the strategy.
    ours = strategies.make(case.strategy, num_dims=num_params, popsize=case.popsize)
    cls = getattr(algorithms, PEER_STRATEGIES[case.strategy])
    if case.strategy == "openai_es":
        es = cls(case.popsize, solution, optimizer=optax.adam(ours.learning_rate, b1=ours.b1, b2=ours.b2, eps=ours.eps),
                 std_schedule=optax.constant_schedule(ours.sigma_init))
    else:
        es = cls(case.popsize, solution)
    es_params = es.default_params
    if hasattr(es_params, "std_init"):  # cma_es, simple_ga: the same initial step size
        es_params = es_params.replace(std_init=ours.sigma_init)

    def policy(flat, obs):
        w1 = flat[: obs_size * h].reshape(obs_size, h)
        b1 = flat[obs_size * h : (obs_size + 1) * h]
        w2 = flat[(obs_size + 1) * h : (obs_size + 1) * h + h * out_size].reshape(h, out_size)
        b2 = flat[(obs_size + 1) * h + h * out_size :]
        out = jax.nn.relu(obs @ w1 + b1) @ w2 + b2
        return jnp.argmax(out) if discrete else out

    def start(key):
        key, k_reset = jax.random.split(key)
        obs, state = env.reset(k_reset, env_params)
        return (obs, state, key, jnp.zeros(()), jnp.ones((), bool))

    def step(flat, carry):
        obs, state, key, ret, alive = carry
        key, k_step = jax.random.split(key)
        obs, state, reward, terminated, truncated, _ = env.step(k_step, state, policy(flat, obs), env_params)
        ret = ret + jnp.where(alive, reward, 0.0)
        alive = alive & ~(terminated | truncated)
        return (obs, state, key, ret, alive)

    def episode(flat, key):
        def body(carry, _):
            return step(flat, carry), None

        (_, _, _, ret, _), _ = jax.lax.scan(body, start(key), None, length=length, unroll=case.unroll)
        return ret

    evaluate = jax.vmap(jax.vmap(episode, in_axes=(None, 0)), in_axes=(0, None))

    def generation(carry):
        state, key = carry
        key, k_ask, k_eval, k_tell = jax.random.split(key, 4)
        x, state = es.ask(k_ask, state, es_params)
        returns = evaluate(x, jax.random.split(k_eval, case.evals)).mean(axis=1)
        state, _ = es.tell(k_tell, x, -returns, state, es_params)
        return (state, key), returns

    def init(key):
        k_init, k_pop, key = jax.random.split(key, 3)
        if case.strategy == "simple_ga":
            pop = solution + 0.1 * jax.random.normal(k_pop, (case.popsize, num_params))
            state = es.init(k_init, pop, jnp.zeros(case.popsize), es_params)
        else:
            state = es.init(k_init, solution, es_params)
        return state, key

    carry = jax.jit(init, out_shardings=sharding)(jax.random.key(settings.seed))

    def make_fn():
        def fresh_generation(carry):
            return generation(carry)

        return fresh_generation

    def scan_step():
        # one step of every episode of every member, costed like esperf's (bench.measure.targets)
        flat = jnp.zeros((case.popsize, num_params))
        carries = jax.vmap(start)(jax.random.split(jax.random.key(0), case.evals))
        return jax.vmap(jax.vmap(step, in_axes=(None, 0)), in_axes=(0, None)), (flat, carries)

    return Target(
        make_fn=make_fn,
        args=(carry,),
        chain=True,
        env_steps=case.popsize * case.evals * length,
        flops_fn=scan_flops_fn(length, case.unroll, scan_step),
        bytes_fn=scan_flops_fn(length, case.unroll, scan_step, measure=xla_bytes_accessed),
        num_params=num_params,
        episode_length=length,
    )
