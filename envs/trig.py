"""sin and cos of float32 angles as plain arithmetic that XLA fuses and vectorises.

XLA:CPU lowers ``jnp.sin``/``jnp.cos`` to one scalar libm call per element: in the
Pendulum rollout they took a fifth of the CPU samples (perf) and kept the step from
fusing into vector code (measured: the batched rollout at pop 1000 went from 208 to
115 ms with this ``sincos``). This is Cephes' ``sinf``/``cosf`` (S. L. Moshier,
Cephes Math Library):

    k = round(x * 2/pi)                         (the quadrant)
    r = x - k * pi/2                            (Cody-Waite: pi/2 in three parts, exact products)
    sin r = r + r^3 (S0 + S1 r^2 + S2 r^4)      (minimax on [-pi/4, pi/4])
    cos r = 1 - r^2/2 + r^4 (C0 + C1 r^2 + C2 r^4)
    sin x, cos x = (sin r, cos r) rotated by k quarter turns

Absolute error <= 1e-7 against float64 ``numpy.sin``/``cos`` for |x| <= 1e4 (tested),
the same order as the float32 rounding of the result; beyond ~1e5 the three-part
reduction loses bits (libm's Payne-Hanek reduction does not), which no env here reaches.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_TWO_OVER_PI = np.float32(2 / np.pi)
# pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3; the first two have 8 and 11 significant bits, so
# k * _PIO2_1 and k * _PIO2_2 are exact for |k| < 2^13 (|x| < 12 800).
_PIO2_1 = np.float32(1.5703125)
_PIO2_2 = np.float32(4.837512969970703125e-4)
_PIO2_3 = np.float32(7.54978995489188216e-8)
_S = tuple(np.float32(c) for c in (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4))
_C = tuple(np.float32(c) for c in (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5))


def sincos(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sin x, cos x) of a float32 array, elementwise (Cephes ``sinf``/``cosf``)."""
    x = jnp.asarray(x, jnp.float32)
    k = jnp.round(x * _TWO_OVER_PI)
    r = ((x - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    z = r * r
    s = r + r * z * (_S[0] + z * (_S[1] + z * _S[2]))
    c = np.float32(1) - np.float32(0.5) * z + z * z * (_C[0] + z * (_C[1] + z * _C[2]))
    # quadrant q: sin x = (s, c, -s, -c)[q] and cos x = (c, -s, -c, s)[q]
    q = k.astype(jnp.int32) & 3
    swap = (q & 1) == 1
    sin = jnp.where(swap, c, s)
    cos = jnp.where(swap, s, c)
    sin = jnp.where(q >= 2, -sin, sin)
    cos = jnp.where((q == 1) | (q == 2), -cos, cos)
    return sin, cos
