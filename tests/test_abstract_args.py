"""Abstract inputs (``jax.ShapeDtypeStruct``s) compile the same program as concrete ones.

A compile round builds its target from the inputs' shapes, dtypes and shardings alone
(``make_target(..., abstract=True)``), and the FLOP count lowers the scan step from
abstract inputs, so that a worker compiles and runs nothing else. These tests keep the
figures honest: the lowered module from abstract inputs is the module from the real
inputs, text for text, on one device and on a 2-device mesh. A jax already imported in
this process cannot get more devices, so the mesh check (``abstract_inputs.mesh_checks``) runs in the
subprocess of ``test_sharding.py``, which has forced CPU host devices, and is asserted there.
"""

import jax
import jax.numpy as jnp
import pytest

from abstract_inputs import _case, compare
from bench.case import Settings
from bench.measure import timing
from bench.measure.placement import Placement
from bench.measure.targets import make_target
from bench.workload import Workload
from envs.rollout import population_carry

# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["generation", "ask", "eval", "tell"])
def test_abstract_inputs_lower_to_the_same_program_on_one_device(part):
    r = compare(_case(part), jax.devices()[:1])
    assert r["abstract_is_abstract"]
    assert r["same_lowered"] and r["same_lowered_with_locations"]
    # every part takes one typed key (the GenState's, or eval's episode key), placed like the rest
    assert r["abstract_keys"] == r["concrete_keys"] and len(r["abstract_keys"]) == 1
    assert r["keys_placed"]


def test_abstract_generation_compiles_to_the_same_executable():
    """The backend compile sees the same module and options: the same HLO and planned memory."""
    r = compare(_case("generation"), jax.devices()[:1])
    a, c = r["abstract_lowered"].compile(), r["concrete_lowered"].compile()
    assert a.as_text() == c.as_text()
    assert a.memory_analysis().argument_size_in_bytes == c.memory_analysis().argument_size_in_bytes


@pytest.mark.parametrize("part", ["generation", "tell"])
def test_an_abstract_target_compiles_nothing(part):
    jax.clear_caches()
    with timing.CompileCounter() as counter:
        target = make_target(_case(part), Settings(), Placement.on(jax.devices()[:1]), abstract=True)
        Workload(popsize=8, evals=2, hidden=4, episode_length=5).scan_step_fn()
    assert counter.counts()["backend_compile"] == 0, counter.counts()
    assert target.args


@pytest.mark.parametrize("env", ["Pendulum-v1", "CartPole-v1"])
def test_the_scan_step_lowers_the_same_from_abstract_inputs(env):
    """The FLOP count's scan step: its abstract inputs are those population_carry computes."""
    wl = Workload(strategy="openai_es", env=env, popsize=8, evals=3, hidden=4)
    fn, args = wl.scan_step_fn()
    assert all(isinstance(a, jax.ShapeDtypeStruct) for a in jax.tree.leaves(args))
    x = jnp.zeros((wl.popsize, wl.num_params), jnp.float32)
    concrete = population_carry(wl.env_obj, wl.policy, x, jax.random.split(jax.random.key(0), wl.evals))
    assert jax.jit(fn).lower(*args).as_text() == jax.jit(fn).lower(*concrete).as_text()



