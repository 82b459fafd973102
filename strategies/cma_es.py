"""(mu/mu_W, lambda)-CMA-ES with negative (active) recombination weights.

The algorithm of N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772
(equation numbers below refer to it), with its default parameters computed EXACTLY as
the ``cmaes`` package (``cmaes.CMA``, file ``cmaes/_cma.py``) computes them, including
its numerical safeguards: the ``EPS`` = 1e-8 in the negative-weight rescaling, the cap
``SIGMA_MAX`` = 1e32 on the step size, the symmetrisation of C and the clipping of
negative eigenvalues to ``EPS`` before the square root.

Layout for speed: the eigen decomposition C = B diag(D^2) B^T is done once, at the end
of ``tell``, and kept in the state, so ``ask`` is one matrix product
``mean + sigma * (z * D) @ B^T`` and ``tell`` needs two more (the C^{-1/2}-norms of the
steps and the rank-mu update ``(w * y)^T @ y``); nothing of shape (popsize, n, n) is
ever built and nothing loops over members or dims.

Differences from ``cmaes.CMA`` (documented, all outside its normal operating range):
  * popsize 2 and 3 give c_mu = 0, where ``cmaes`` divides by zero computing alpha_mu^-
    (numpy warns and yields inf); here the two terms with c_mu in the denominator
    count as +inf explicitly (same values, no warning).
  * an eigenvalue of exactly 0 is clipped to EPS like a negative one (``cmaes`` clips
    only < 0 and then divides by D = 0).
  * sigma is kept >= the smallest normal float of the dtype, so a collapsed run stays
    finite instead of turning into NaN through y = (x - m) / 0.
  * the rebuilt C = B diag(D^2) B^T is symmetrised once more, so the stored C is
    exactly symmetric (it differs from cmaes's by rounding only).
  * the constant part 1 - c_1 - c_mu sum(w) of the decay factor of C (eq. 47) is
    summed in float64 at trace time (rounding-level difference in float64; in
    float32 it avoids cancellation for large popsize, where it is ~1e-8).
Sums run in another order than in ``cmaes`` (matrix products instead of sorted
loops), so float64 results agree to rounding (about 1e-14 relative), not bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from strategies import base

_EPS = 1e-8  # cmaes._cma._EPS
_SIGMA_MAX = 1e32  # cmaes._cma._SIGMA_MAX
# Every matrix product runs at full float32/float64 precision: on GPUs the default
# float32 matmul may use TF32 (10-bit mantissa), which would drown the small
# eigen-directions of an ill-conditioned C in rounding noise.
_HI = jax.lax.Precision.HIGHEST


class CMAESState(NamedTuple):
    """CMA-ES search state (a pytree; vmap-able over seeds).

    mean (n,): m; sigma (): step size; C (n, n): covariance matrix, equal to
    B diag(D^2) B^T; B (n, n): its eigenvectors (columns); D (n,): square roots of its
    eigenvalues; p_sigma, p_c (n,): evolution paths; generation: number of ``tell``s.
    """

    mean: jax.Array
    sigma: jax.Array
    C: jax.Array
    B: jax.Array
    D: jax.Array
    p_sigma: jax.Array
    p_c: jax.Array
    best_member: jax.Array
    best_fitness: jax.Array
    generation: jax.Array


def default_parameters(num_dims: int, popsize: int) -> dict:
    """The tutorial's default strategy parameters, computed as ``cmaes.CMA.__init__`` does.

    Returns a dict with the recombination ``weights`` (eq. 49 and 53: positive ones sum
    to 1, negative ones to -alpha_mu^-), ``mu``, ``mu_eff``, ``mu_eff_minus``, ``c1``,
    ``cmu`` (eq. 57-58 with alpha_cov = 2), ``min_alpha`` (eq. 50-52), ``cm`` (eq. 54),
    ``c_sigma``, ``d_sigma`` (eq. 55), ``cc`` (eq. 56) and ``chi_n`` (E||N(0, I)||, p. 28).
    The expressions and their order of evaluation are those of ``cmaes`` so that the
    float64 values agree bit for bit.
    """
    n_dim, population_size = num_dims, popsize
    mu = population_size // 2
    # (eq. 49)
    weights_prime = np.array(
        [math.log((population_size + 1) / 2) - math.log(i + 1) for i in range(population_size)]
    )
    mu_eff = (np.sum(weights_prime[:mu]) ** 2) / np.sum(weights_prime[:mu] ** 2)
    mu_eff_minus = (np.sum(weights_prime[mu:]) ** 2) / np.sum(weights_prime[mu:] ** 2)

    alpha_cov = 2
    c1 = alpha_cov / ((n_dim + 1.3) ** 2 + mu_eff)
    cmu = min(
        1 - c1 - 1e-8,  # 1e-8 is for large popsize (as in cmaes)
        alpha_cov * (mu_eff - 2 + 1 / mu_eff) / ((n_dim + 2) ** 2 + alpha_cov * mu_eff / 2),
    )
    # cmu == 0 happens for popsize 2 and 3 (mu_eff == 1): the limits of the terms below are +inf.
    min_alpha = min(
        1 + c1 / cmu if cmu > 0 else math.inf,  # eq. 50
        1 + (2 * mu_eff_minus) / (mu_eff + 2),  # eq. 51
        (1 - c1 - cmu) / (n_dim * cmu) if cmu > 0 else math.inf,  # eq. 52
    )
    # (eq. 53)
    positive_sum = np.sum(weights_prime[weights_prime > 0])
    negative_sum = np.sum(np.abs(weights_prime[weights_prime < 0]))
    weights = np.where(
        weights_prime >= 0,
        1 / positive_sum * weights_prime,
        min_alpha / negative_sum * weights_prime,
    )
    cm = 1  # (eq. 54)
    # (eq. 55)
    c_sigma = (mu_eff + 2) / (n_dim + mu_eff + 5)
    d_sigma = 1 + 2 * max(0, math.sqrt((mu_eff - 1) / (n_dim + 1)) - 1) + c_sigma
    # (eq. 56)
    cc = (4 + mu_eff / n_dim) / (n_dim + 4 + 2 * mu_eff / n_dim)
    # E||N(0, I)|| (p. 28)
    chi_n = math.sqrt(n_dim) * (1.0 - (1.0 / (4.0 * n_dim)) + 1.0 / (21.0 * (n_dim**2)))
    return dict(
        weights=weights,
        mu=mu,
        mu_eff=float(mu_eff),
        mu_eff_minus=float(mu_eff_minus),
        c1=float(c1),
        cmu=float(cmu),
        min_alpha=float(min_alpha),
        cm=float(cm),
        c_sigma=float(c_sigma),
        d_sigma=float(d_sigma),
        cc=float(cc),
        chi_n=float(chi_n),
    )


@dataclass(frozen=True)
class CMAES(base.StrategyBase):
    """Static configuration of CMA-ES; build with ``strategies.make("cma_es", ...)``.

    Hyper-parameters are Python floats computed at construction (see
    ``default_parameters``), so the object is hashable and the jitted code sees them
    as constants. Checks, best-so-far and the generation counter are
    ``base.StrategyBase``'s; this class adds the sampling and the update.

    References:
      N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016).
    """

    name: ClassVar[str] = "cma_es"
    options: ClassVar[tuple[str, ...]] = ()
    default_sigma_init: ClassVar[float] = 0.5
    min_popsize_reason: ClassVar[str] = "mu = popsize // 2 parents"

    weights: tuple[float, ...] = field(init=False, repr=False)
    mu: int = field(init=False, repr=False)
    mu_eff: float = field(init=False, repr=False)
    mu_eff_minus: float = field(init=False, repr=False)
    c1: float = field(init=False, repr=False)
    cmu: float = field(init=False, repr=False)
    min_alpha: float = field(init=False, repr=False)
    cm: float = field(init=False, repr=False)
    c_sigma: float = field(init=False, repr=False)
    d_sigma: float = field(init=False, repr=False)
    cc: float = field(init=False, repr=False)
    chi_n: float = field(init=False, repr=False)

    def _configure(self):
        """The default parameters for (num_dims, popsize), as ``default_parameters`` computes them."""
        params = default_parameters(self.num_dims, self.popsize)
        self._set(weights=tuple(float(w) for w in params.pop("weights")), **params)

    # -- helpers ------------------------------------------------------------------------
    def _arrays(self, dtype):
        """Per-rank weights: all (eq. 53) and the recombination ones (eq. 41: first mu only)."""
        w = np.asarray(self.weights)
        w_rec = np.where(np.arange(self.popsize) < self.mu, w, 0.0)
        return jnp.asarray(w, dtype), jnp.asarray(w_rec, dtype)

    # -- the strategy -------------------------------------------------------------------
    def _init(self, key: jax.Array, mean: jax.Array) -> CMAESState:
        """Initial state: m = mean, sigma = sigma_init, C = B = I, D = 1, paths = 0.

        ``key`` is unused (initialisation is deterministic) but kept for a uniform API.
        """
        del key
        dtype, n = mean.dtype, self.num_dims
        eye = jnp.eye(n, dtype=dtype)
        zeros = jnp.zeros(n, dtype)
        return CMAESState(
            mean=mean,
            sigma=jnp.asarray(self.sigma_init, dtype),
            C=eye,
            B=eye,
            D=jnp.ones(n, dtype),
            p_sigma=zeros,
            p_c=zeros,
            **self._initial_best(mean),
        )

    def _ask(self, key: jax.Array, state: CMAESState):
        """Sample x_k = m + sigma B D z_k, z_k ~ N(0, I) (eq. 38-40); returns (x, state).

        Written as ``(z * D) @ B^T`` for the whole population: one matrix product.
        The state is returned unchanged (B and D are already current).
        """
        dtype = state.mean.dtype
        z = jax.random.normal(key, (self.popsize, self.num_dims), dtype)
        y = jnp.matmul(z * state.D, state.B.T, precision=_HI)  # y_k ~ N(0, C)
        return state.mean + state.sigma * y, state

    def _update(self, state: CMAESState, x: jax.Array, f: jax.Array) -> CMAESState:
        """One CMA-ES update from the evaluated population (fitness: lower is better).

        Computes, with ranks k = 1..lambda by sanitized fitness (NaN/inf = worst):
          y_k = (x_k - m) / sigma (eq. 39);  <y>_w = sum_{k<=mu} w_k y_k (eq. 41);
          m <- m + c_m sigma <y>_w (eq. 42);
          p_sigma <- (1 - c_s) p_sigma + sqrt(c_s (2 - c_s) mu_eff) C^{-1/2} <y>_w (eq. 43);
          sigma <- sigma exp(c_s / d_s (||p_sigma|| / E||N(0,I)|| - 1)) (eq. 44), capped at 1e32;
          h_sigma (p. 28, with cmaes's generation counter g + 1);
          p_c <- (1 - c_c) p_c + h_sigma sqrt(c_c (2 - c_c) mu_eff) <y>_w (eq. 45);
          w°_k = w_k (w_k >= 0) or w_k n / (||C^{-1/2} y_k||^2 + EPS) (eq. 46);
          C <- (1 + c_1 delta(h_sigma) - c_1 - c_mu sum w) C + c_1 p_c p_c^T
               + c_mu sum_k w°_k y_k y_k^T (eq. 47, delta(h) = (1 - h) c_c (2 - c_c));
        then symmetrises C, eigen-decomposes it (B, D for the next ``ask``), clips
        negative eigenvalues to EPS and rebuilds C = B diag(D^2) B^T, as ``cmaes`` does.
        ``x`` and the sanitized ``f`` come from ``base.StrategyBase.tell``, which also
        updates best-so-far and the generation.
        """
        dtype = state.mean.dtype
        n = self.num_dims

        # Weights are scattered to members by rank instead of sorting the population:
        # only the (lambda,) vector moves, never the (lambda, n) matrix. A stable sort
        # breaks ties by index like the list.sort of cmaes.
        order = jnp.argsort(f, stable=True)
        w_all, w_rec = self._arrays(dtype)
        w_member = jnp.zeros(self.popsize, dtype).at[order].set(w_all)
        w_rec_member = jnp.zeros(self.popsize, dtype).at[order].set(w_rec)

        g = state.generation + 1  # cmaes increments its counter at the start of tell
        sigma, B, D = state.sigma, state.B, state.D
        y = (x - state.mean) / sigma  # (eq. 39)
        y_w = jnp.matmul(w_rec_member, y, precision=_HI)  # (eq. 41)
        mean = state.mean + self.cm * sigma * y_w  # (eq. 42)

        # C^{-1/2} v = B D^{-1} B^T v.
        c_inv_sqrt_yw = jnp.matmul(B, jnp.matmul(B.T, y_w, precision=_HI) / D, precision=_HI)
        p_sigma = (1 - self.c_sigma) * state.p_sigma + math.sqrt(
            self.c_sigma * (2 - self.c_sigma) * self.mu_eff
        ) * c_inv_sqrt_yw  # (eq. 43)
        norm_p_sigma = jnp.linalg.norm(p_sigma)
        sigma_new = sigma * jnp.exp((self.c_sigma / self.d_sigma) * (norm_p_sigma / self.chi_n - 1))  # (eq. 44)
        # cmaes caps at 1e32; the floor (smallest normal float) only matters for a run
        # that has collapsed completely and keeps it NaN-free.
        sigma_new = jnp.clip(sigma_new, jnp.finfo(dtype).tiny, _SIGMA_MAX)

        # h_sigma (p. 28); the exponent 2 (g + 1) with the incremented g is cmaes's.
        decay = jnp.power(jnp.asarray(1 - self.c_sigma, dtype), (2 * (g + 1)).astype(dtype))
        h_sigma_left = norm_p_sigma / jnp.sqrt(1 - decay)
        h_sigma_right = (1.4 + 2 / (n + 1)) * self.chi_n
        h_sigma = (h_sigma_left < h_sigma_right).astype(dtype)

        p_c = (1 - self.cc) * state.p_c + h_sigma * math.sqrt(self.cc * (2 - self.cc) * self.mu_eff) * y_w  # (eq. 45)

        # ||C^{-1/2} y_k||^2 = ||D^{-1} B^T y_k||^2 for all k in one product (eq. 46).
        z_sq_norm = jnp.sum(jnp.square(jnp.matmul(y, B, precision=_HI) / D), axis=1)
        w_io = w_member * jnp.where(w_member >= 0, 1.0, n / (z_sq_norm + _EPS))

        delta_h_sigma = (1 - h_sigma) * self.cc * (2 - self.cc)  # (p. 28)
        rank_one = jnp.outer(p_c, p_c)
        # sum_k w°_k y_k y_k^T as a single (n, lambda) x (lambda, n) product.
        rank_mu = jnp.matmul((w_io[:, None] * y).T, y, precision=_HI)
        # The static part of the decay factor is summed in float64 at trace time: for
        # large popsize it is ~1e-8 and float32 cancellation could even flip its sign.
        decay_static = 1 - self.c1 - self.cmu * float(np.sum(np.asarray(self.weights)))
        C = (
            (decay_static + self.c1 * delta_h_sigma) * state.C
            + self.c1 * rank_one
            + self.cmu * rank_mu
        )  # (eq. 47)

        C, B, D = _eigen_decomposition(C)
        return state._replace(mean=mean, sigma=sigma_new, C=C, B=B, D=D, p_sigma=p_sigma, p_c=p_c)


def _eigen_decomposition(C: jax.Array):
    """(C', B, D) with C' = B diag(D^2) B^T: ``cmaes.CMA._eigen_decomposition``.

    C is symmetrised first (rounding in the update breaks symmetry slightly), and
    eigenvalues <= 0 (rounding, in ill-conditioned cases) become EPS so that D^{-1}
    exists; C is rebuilt from the clipped decomposition so that C, B and D agree.
    """
    C = (C + C.T) / 2
    D2, B = jnp.linalg.eigh(C, symmetrize_input=False)
    D = jnp.sqrt(jnp.where(D2 <= 0, _EPS, D2))
    C = jnp.matmul(B * jnp.square(D), B.T, precision=_HI)
    # The product is symmetric only up to rounding; keep the stored C exactly symmetric.
    return (C + C.T) / 2, B, D
