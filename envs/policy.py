"""A one-hidden-layer MLP policy that reads a flat parameter vector.

obs -> relu(obs @ W1 + b1) -> h @ W2 + b2 -> action. A continuous env takes the
linear output as its action (Pendulum clips it to +-2 itself); a discrete env takes
the argmax of the logits. The flat layout is ``[W1 (obs*hidden), b1 (hidden),
W2 (hidden*out), b2 (out)]`` in row-major order, so a strategy searches a plain
vector of ``num_params`` floats.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from envs.base import Env


class MLPParams(NamedTuple):
    w1: jax.Array  # (..., obs_size, hidden)
    b1: jax.Array  # (..., hidden)
    w2: jax.Array  # (..., hidden, out_size)
    b2: jax.Array  # (..., out_size)


@dataclass(frozen=True)
class MLPPolicy:
    """Static description of the MLP: sizes only, no parameters."""

    obs_size: int
    hidden: int
    out_size: int
    discrete: bool

    def __post_init__(self):
        for field in ("obs_size", "hidden", "out_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{field}={value!r} is not allowed; it must be a positive int")

    @classmethod
    def for_env(cls, env: Env, hidden: int) -> MLPPolicy:
        """The MLP for ``env``: input obs_size, output action_size, argmax if discrete.

        Args:
          env: an ``envs.base.Env`` (only its static sizes are read).
          hidden: the number of hidden units.

        Returns:
          The policy description.
        """
        return cls(obs_size=env.obs_size, hidden=hidden, out_size=env.action_size, discrete=env.discrete)

    @property
    def num_params(self) -> int:
        return (self.obs_size + 1) * self.hidden + (self.hidden + 1) * self.out_size

    def unflatten(self, flat: jax.Array) -> MLPParams:
        """Split ``flat`` of shape (..., num_params) into weight matrices with the same leading dims."""
        if flat.shape[-1] != self.num_params:
            raise ValueError(
                f"policy parameters have shape {flat.shape}; the last axis must be num_params={self.num_params}"
            )
        lead = flat.shape[:-1]
        o, h, a = self.obs_size, self.hidden, self.out_size
        sizes = (o * h, h, h * a, a)
        offsets = [0]
        for s in sizes:
            offsets.append(offsets[-1] + s)
        w1, b1, w2, b2 = (flat[..., offsets[i]:offsets[i + 1]] for i in range(4))
        return MLPParams(
            w1.reshape(*lead, o, h), b1.reshape(*lead, h), w2.reshape(*lead, h, a), b2.reshape(*lead, a)
        )

    def init_flat(self, key: jax.Array, dtype=jnp.float32) -> jax.Array:
        """LeCun-normal weights and zero biases, flattened: a sensible starting mean."""
        k1, k2 = jax.random.split(key)
        w1 = jax.random.normal(k1, (self.obs_size, self.hidden), dtype) / jnp.sqrt(self.obs_size)
        w2 = jax.random.normal(k2, (self.hidden, self.out_size), dtype) / jnp.sqrt(self.hidden)
        return jnp.concatenate(
            [w1.ravel(), jnp.zeros(self.hidden, dtype), w2.ravel(), jnp.zeros(self.out_size, dtype)]
        )

    def activations(self, params: MLPParams, obs: jax.Array) -> jax.Array:
        """Hidden activations ``relu(obs @ w1 + b1)``; ``obs`` may carry leading batch dims.

        Written as ``obs_size`` broadcast multiply-adds instead of a matmul: the
        contraction is only 3-4 long, and as elementwise ops it fuses with the bias and
        the ReLU into one pass over the hidden activations (a batched matmul with K = 3
        writes them once more; measured 1.3x slower at pop 1000 on CPU).
        ``params.w1`` may carry extra unit axes to broadcast over episodes.
        """
        h = params.b1
        for i in range(self.obs_size):  # obs_size (3-4) terms, not a loop over data
            h = h + obs[..., i, None] * params.w1[..., i, :]
        return jax.nn.relu(h)

    def logits(self, params: MLPParams, obs: jax.Array) -> jax.Array:
        """MLP output ``relu(obs @ w1 + b1) @ w2 + b2``; ``obs`` may carry leading batch dims."""
        return self.activations(params, obs) @ params.w2 + params.b2

    def action(self, params: MLPParams, obs: jax.Array) -> jax.Array:
        """The env action: the linear output (continuous) or the argmax of the logits (discrete)."""
        if not self.discrete:
            return self.logits(params, obs)
        if self.out_size == 2:
            # argmax of two logits is [l1 > l0] = [relu(h) . (w2[:, 1] - w2[:, 0]) + (b2[1] - b2[0]) > 0]:
            # one matrix-vector product instead of a product with two columns and a
            # compare (measured 2.5x faster CartPole rollouts at pop 1000 on CPU). The
            # first index wins exact ties, as argmax does; only a near-tie within
            # float32 rounding of the logits can decide the other way.
            dw = params.w2[..., 1:2] - params.w2[..., 0:1]
            db = params.b2[..., 1] - params.b2[..., 0]
            return ((self.activations(params, obs) @ dw)[..., 0] + db > 0).astype(jnp.int32)
        return jnp.argmax(self.logits(params, obs), axis=-1).astype(jnp.int32)
