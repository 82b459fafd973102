"""The population sharded over devices: same generation as on one device, no collective in
the episode loop, no gathered population; device-set parsing; the sharded ``bench.train``.

A jax already imported in this process cannot get more devices, so the multi-device
checks run in ONE subprocess with 4 forced CPU host devices (``child_checks`` below,
run as ``python tests/test_sharding.py``), which prints its findings as a JSON line;
the tests assert on them. Forced host devices prove correctness, not speed.
"""
import contextlib
import functools
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import helpers
import hlo
from helpers import ROOT

from bench.multi.devices import resolve_device_set, scaling_sets
from bench.multi.sharding import check_divisible

NUM_DEVICES = 4
POPSIZE, HIDDEN = 24, 8  # num_params = 5 * 8 + 1 = 41: no other axis of the program is 24, 12, 6 or 41
STRATEGIES = {"cma_es": (), "openai_es": (), "simple_ga": (("elite_ratio", 0.125),)}  # GA: 3 parents


# -- the subprocess ---------------------------------------------------------------------------


def _leaves(state) -> dict:
    """{path: float64 array} of a GenState (PRNG keys as their raw data)."""
    import jax

    def raw(v):
        return jax.random.key_data(v) if jax.dtypes.issubdtype(v.dtype, jax.dtypes.prng_key) else v

    flat, _ = jax.tree_util.tree_flatten_with_path(state)
    return {jax.tree_util.keystr(path): np.asarray(raw(v), np.float64) for path, v in flat}


@functools.lru_cache(maxsize=None)
def _single_device_reference(strategy, options):
    """(workload, state, next state, returns) on one device: one compile per strategy, shared by
    the 2- and 4-device checks."""
    import jax

    from bench.workload import Workload

    wl = Workload(strategy=strategy, popsize=POPSIZE, evals=2, hidden=HIDDEN, episode_length=10,
                  strategy_options=options)
    # One generation first, so that tell meets a state unlike init's (C != I, Adam moments != 0).
    single = jax.jit(wl.generation_fn())
    state = single(wl.init(jax.random.key(0)))[0]
    return (wl, state, *single(state))


def _generation_checks(strategy, options, num_devices):
    import jax

    from bench.multi import sharding

    wl, state, ref_state, ref_returns = _single_device_reference(strategy, options)
    mesh = sharding.pop_mesh(jax.devices()[:num_devices])
    in_s, out_s = sharding.generation_shardings(mesh)
    placed = sharding.place(state, mesh)
    compiled = jax.jit(wl.generation_fn(mesh), in_shardings=in_s, out_shardings=out_s).lower(placed).compile()
    new_state, returns = compiled(placed)
    text = compiled.as_text()

    ref, got = _leaves(ref_state), _leaves(new_state)
    diff = {k: float(np.max(np.abs(ref[k] - got[k]) / (1 + np.abs(ref[k])))) if ref[k].size else 0.0 for k in ref}
    if strategy == "cma_es":
        # Eigenvectors of nearly equal eigenvalues are not unique: compare B through C = B D^2 B^T.
        es = new_state.es_state
        B, D = np.asarray(es.B, np.float64), np.asarray(es.D, np.float64)
        diff[".es_state.B"] = float(np.max(np.abs((B * D**2) @ B.T - np.asarray(ref_state.es_state.C, np.float64))))
    # The rollout loop carries (rows, evals=2, ...) float32 arrays: which row counts occur?
    loop_heads = [line.split(" while(")[0] for line in text.splitlines() if " while(" in line]
    loop_rows = sorted({int(m) for head in loop_heads for m in re.findall(r"f32\[([0-9]+),2\b", head)})
    found = hlo.collectives(text)
    return {
        "returns_equal": bool(np.array_equal(np.asarray(ref_returns), np.asarray(returns))),
        "state_diff": diff,
        "returns_spec": list(returns.sharding.spec),
        "shard_rows": sorted({s.data.shape[0] for s in returns.addressable_shards}),
        "in_loop": hlo.collectives_in_loop(text),
        "population_sized": hlo.population_collectives(text, POPSIZE, wl.num_params, num_devices),
        "ops": sorted({c.op for c in found}),
        "num_collectives": len(found),
        "loop_rows": loop_rows,
        "num_params": wl.num_params,
    }


def _positive_control():
    """A scan whose body sums a sharded array: the check must see an all-reduce in the loop."""
    import jax
    import jax.numpy as jnp

    from bench.multi import sharding

    mesh = sharding.pop_mesh(jax.devices()[:NUM_DEVICES])

    def f(x):
        def body(c, _):
            return c + jnp.sum(jnp.sin(x * c)), None

        return jax.lax.scan(body, 0.0, None, length=5)[0]

    x = jax.device_put(np.arange(8.0, dtype=np.float32), sharding.pop_sharded(mesh))
    text = jax.jit(f).lower(x).compile().as_text()
    return hlo.collectives_in_loop(text)


def _train_checks():
    from bench.train import parse_args, train

    out = {}
    for strategy, generations in (("simple_ga", "3"), ("cma_es", "1")):
        for spec in ("cpu:0", "cpu:all"):
            args = parse_args(["--strategy", strategy, "--env", "Pendulum-v1", "--popsize", "8", "--evals", "2",
                               "--generations", generations, "--hidden", "4", "--episode-length", "10",
                               "--log-every", "3", "--final-episodes", "5", "--devices", spec])
            with contextlib.redirect_stdout(io.StringIO()):
                out[f"{strategy} {spec}"] = train(args)
    try:
        train(parse_args(["--popsize", "10", "--evals", "1", "--devices", "cpu:0+1+2+3"]))
        out["indivisible"] = None
    except ValueError as err:
        out["indivisible"] = str(err)
    return out


def child_checks() -> dict:
    import jax

    from bench.multi.devices import visible_devices
    from bench.workload import Workload

    out = {"visible": list(visible_devices()), "generation": {}}
    for strategy, options in STRATEGIES.items():
        for num_devices in (2, NUM_DEVICES):
            out["generation"][f"{strategy} {num_devices}"] = _generation_checks(strategy, options, num_devices)
    out["control_in_loop"] = _positive_control()
    from bench.multi import sharding
    from bench.multi.sharding import pop_mesh

    # a population that does not split evenly (the whole CPU's cores are the machine's choice):
    # padded to the next multiple, the padding's returns dropped -- the one-device returns
    from dataclasses import replace

    mesh = pop_mesh(jax.devices())
    uneven = Workload(strategy="openai_es", popsize=10, evals=2, hidden=4, episode_length=8)
    state = jax.jit(uneven.init)(jax.random.key(1))
    _, one = jax.jit(uneven.generation)(state)
    padded = {}
    for chunk in (None, 2):
        wl = replace(uneven, pop_chunk=chunk, shards=mesh.size)
        in_s, out_s = sharding.generation_shardings(mesh, wl.popsize)
        step = jax.jit(wl.generation_fn(mesh), in_shardings=in_s, out_shardings=out_s)
        _, returns = step(sharding.place(state, mesh))
        padded[str(chunk)] = float(np.max(np.abs(np.asarray(returns) - np.asarray(one))))
    out["workload_uneven"] = {"blocks": list(replace(uneven, pop_chunk=2, shards=mesh.size).pop_blocks),
                              "max_abs_diff": padded}
    out["train"] = _train_checks()
    from abstract_inputs import mesh_checks

    out["abstract_inputs"] = mesh_checks()
    return out


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def child():
    env = helpers.child_env(JAX_PLATFORMS="cpu", JAX_ENABLE_COMPILATION_CACHE="false",
                            XLA_FLAGS=f"--xla_force_host_platform_device_count={NUM_DEVICES}")
    proc = helpers.run([sys.executable, str(Path(__file__).resolve())], 900, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.integration
def test_child_sees_the_forced_devices(child):
    assert child["visible"] == [f"cpu:{i}" for i in range(NUM_DEVICES)]


@pytest.mark.integration
@pytest.mark.parametrize("num_devices", [2, NUM_DEVICES])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_sharded_generation_equals_single_device(child, strategy, num_devices):
    r = child["generation"][f"{strategy} {num_devices}"]
    # Each member's rollout is the same computation on its own device: bit-equal returns.
    assert r["returns_equal"]
    assert r["returns_spec"] == ["pop"] and r["shard_rows"] == [POPSIZE // num_devices]
    # tell's sums over the population are split into per-device partial sums: float32 rounding.
    assert max(r["state_diff"].values()) < 2e-5, r["state_diff"]
    if strategy == "simple_ga":
        assert max(r["state_diff"].values()) == 0.0  # selection by rank copies rows exactly


@pytest.mark.integration
@pytest.mark.parametrize("num_devices", [2, NUM_DEVICES])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_compiled_sharded_generation_communicates_only_in_tell(child, strategy, num_devices):
    r = child["generation"][f"{strategy} {num_devices}"]
    assert r["in_loop"] == []  # no collective inside the episode (or any other) loop
    assert r["population_sized"] == []  # nothing (popsize, num_params)-shaped is moved
    assert "all-reduce" in r["ops"] and r["num_collectives"] >= 2  # the parser does find tell's reductions
    # The episode loop runs on shards: its arrays have popsize / num_devices rows, never popsize.
    assert r["loop_rows"] == [POPSIZE // num_devices]


@pytest.mark.integration
def test_collective_check_sees_a_collective_in_a_loop(child):
    assert child["control_in_loop"] and "all-reduce" in child["control_in_loop"][0]


@pytest.mark.integration
def test_an_uneven_population_is_padded_and_returns_the_one_device_returns(child):
    """10 members on 4 devices: 3 rows a device (blocks of 2: 2 blocks), 2 padding rows dropped."""
    uneven = child["workload_uneven"]
    assert uneven["blocks"] == [2, 2]
    assert uneven["max_abs_diff"] == {"None": pytest.approx(0.0, abs=1e-4), "2": pytest.approx(0.0, abs=1e-4)}


@pytest.mark.integration
def test_indivisible_popsize_of_a_chosen_set_is_a_clear_error(child):
    assert child["train"]["indivisible"] == (
        "popsize 10 is not divisible by the 4 devices of cpu:0+1+2+3; choose a multiple of 4"
    )
    with pytest.raises(ValueError, match="popsize 1001 is not divisible by the 4 devices of cpu:all"):
        check_divisible(1001, 4, "cpu:all")
    check_divisible(1000, 4)


@pytest.mark.integration
@pytest.mark.parametrize("strategy", ["simple_ga", "cma_es"])
def test_sharded_train_matches_single_device(child, strategy):
    one, four = child["train"][f"{strategy} cpu:0"], child["train"][f"{strategy} cpu:all"]
    assert one["devices"] == ["cpu:0"] and four["devices"] == [f"cpu:{i}" for i in range(NUM_DEVICES)]
    for r in (one, four):
        assert r["compile_s"] > 0 and r["run_s"] > 0 and r["wall_s"] >= r["compile_s"] + r["run_s"]
        assert r["env_steps_per_s"] == pytest.approx(r["env_steps"] / r["run_s"])
    if strategy == "simple_ga":
        # Returns are bit-equal and GA selection copies rows: the whole run is bit-equal.
        assert four["final_return"] == one["final_return"] and four["best_return"] == one["best_return"]
    else:
        # CMA-ES's sums round differently per device split (mean: ~1e-7 relative after one
        # generation). Only one generation is compared: the next ask samples through the
        # eigenvectors B, which are not unique where eigenvalues (nearly) coincide -- as
        # they do while C is close to I -- so from generation 2 the two runs draw different
        # (equally distributed) populations and their returns part ways.
        assert four["final_return"] == pytest.approx(one["final_return"], rel=1e-4)


FAKE = {f"cpu:{i}": object() for i in range(2)} | {"gpu:0": object(), "gpu:1": object(), "gpu:3": object()}


@pytest.mark.parametrize(
    "token, ids",
    [
        ("cpu:0", ("cpu:0",)),
        ("cpu:1+0", ("cpu:0", "cpu:1")),
        ("gpu:all", ("gpu:0", "gpu:1", "gpu:3")),
        ("gpu:3+1", ("gpu:1", "gpu:3")),
    ],
)
def test_resolve_device_set(token, ids):
    assert resolve_device_set(token, FAKE) == ids


@pytest.mark.parametrize(
    "token, message",
    [
        ("cpu:0+7", "'cpu:0+7': cpu:7 is not a visible device; visible cpu devices: cpu:0, cpu:1"),
        ("gpu:2", "'gpu:2': gpu:2 is not a visible device; visible gpu devices: gpu:0, gpu:1, gpu:3"),
        ("tpu:all", "no tpu device is visible"),
        ("tpu:0", "visible tpu devices: none"),
        ("cpu", "use PLATFORM:ID"),
        ("cpu:", "use PLATFORM:ID"),
        ("cpu:0+gpu:1", "use PLATFORM:ID"),
        ("cpu:x", "use PLATFORM:ID"),
        ("npu:0", "unknown platform 'npu'"),
        ("cpu:0+0", "names a device twice"),
    ],
)
def test_bad_device_set_is_a_clear_error(token, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_device_set(token, FAKE)


def test_scaling_sets():
    ids = [f"gpu:{i}" for i in range(6)]
    assert scaling_sets(ids) == [tuple(ids[:1]), tuple(ids[:2]), tuple(ids[:4]), tuple(ids)]
    assert scaling_sets(ids[:4]) == [tuple(ids[:1]), tuple(ids[:2]), tuple(ids[:4])]
    assert scaling_sets(ids[:1]) == [tuple(ids[:1])]
    with pytest.raises(ValueError, match="no devices"):
        scaling_sets([])


if __name__ == "__main__":
    print(json.dumps(child_checks()), flush=True)


@pytest.mark.integration
def test_abstract_inputs_lower_to_the_same_sharded_generation(child):
    """A compile round's abstract inputs (tests/abstract_inputs.py) on a 2-device mesh: the same module."""
    r = child["abstract_inputs"]
    assert r["num_devices"] == 2
    assert r["abstract_is_abstract"] and r["partitioned"]
    assert r["same_lowered"] and r["same_lowered_with_locations"]
    # the key is a typed key array, replicated over the mesh like the rest of the state
    assert r["abstract_keys"] == r["concrete_keys"] and len(r["abstract_keys"]) == 1
    assert r["keys_placed"]
