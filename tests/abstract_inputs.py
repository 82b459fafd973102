"""The comparison of abstract and concrete inputs, shared by ``test_abstract_args.py`` (one
device) and the forced-device subprocess of ``test_sharding.py`` (a 2-device mesh: a jax
already imported in a process cannot get more devices)."""

import jax

from bench.case import Case, Settings
from bench.measure.placement import Placement
from bench.measure.targets import make_target

NUM_DEVICES = 2


def _case(part="generation", strategy="cma_es", device="cpu:0", devices=()):
    return Case("compile", strategy, "Pendulum-v1", 8, 2, 4, 5, device, part=part, devices=devices)


def lowered(target):
    """The lowered module of ``target`` as the harness traces and lowers it (``timing.compile_stages``)."""
    jitted = jax.jit(target.make_fn(), in_shardings=target.in_shardings, out_shardings=target.out_shardings)
    return jitted.trace(*target.args).lower()


def key_leaves(args):
    """The ``jax.random.key`` leaves of ``args``: (dtype, sharding) pairs."""
    return [(str(a.dtype), a.sharding) for a in jax.tree.leaves(args)
            if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)]


def compare(case, devices) -> dict:
    """Lowered (and, with ``compiled``, compiled) text of the case from abstract and concrete inputs."""
    placement = Placement.on(devices)
    abstract = make_target(case, Settings(), placement, abstract=True)
    concrete = make_target(case, Settings(), placement)
    # one call site for both: the module's debug locations include the caller's line and column
    la, lc = [lowered(t) for t in (abstract, concrete)]
    return {
        "abstract_is_abstract": all(isinstance(a, jax.ShapeDtypeStruct) for a in jax.tree.leaves(abstract.args)),
        "same_lowered": la.as_text() == lc.as_text(),
        "same_lowered_with_locations": la.as_text(debug_info=True) == lc.as_text(debug_info=True),
        "abstract_keys": [(d, str(s)) for d, s in key_leaves(abstract.args)],
        "concrete_keys": [(d, str(s)) for d, s in key_leaves(concrete.args)],
        "keys_placed": all(s == placement.state for _, s in key_leaves(abstract.args)),
        "abstract_lowered": la,
        "concrete_lowered": lc,
    }


def mesh_checks() -> dict:
    """The sharded generation's comparison on 2 devices (run by test_sharding.py's subprocess,
    which has forced host devices; asserted in test_sharding.py)."""
    devices = jax.devices()[:NUM_DEVICES]
    spec = "+".join(str(d.id) for d in devices)
    case = _case(device=f"cpu:{spec}", devices=tuple(f"cpu:{d.id}" for d in devices))
    r = compare(case, devices)
    text = r["abstract_lowered"].as_text()
    # the module is partitioned over the mesh, the population along its "pop" axis
    r["partitioned"] = f"mhlo.num_partitions = {NUM_DEVICES}" in text and '{"pop"}' in text
    r["num_devices"] = len(devices)
    return {k: v for k, v in r.items() if k not in ("abstract_lowered", "concrete_lowered")}
