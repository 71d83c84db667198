"""Minimisation over the probability simplex {w >= 0, sum(w) = 1} by projected gradient with support polishing.

Projected gradient alone converges only linearly, so each time the set of non-zero weights changes the solver asks an
optional `support_solver` for the exact optimum restricted to that support (a small linear solve for the quadratic
problems used here) and accepts it once it satisfies the KKT conditions of the full problem. The result is exact to
rounding in the usual case and still correct, if slower, when the closed form is not available.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quant._series import FloatArray

ValueAndGradient = Callable[[FloatArray], tuple[float, FloatArray]]
SupportSolver = Callable[[npt.NDArray[np.bool_]], FloatArray | None]


@dataclass(frozen=True)
class SimplexSolution:
    """Solver output: the weights, iterations used, and whether an optimality test passed."""

    weights: FloatArray
    iterations: int
    converged: bool


def project_to_simplex(v: npt.ArrayLike) -> FloatArray:
    """Euclidean projection of `v` onto the probability simplex (Duchi et al., 2008), O(n log n)."""
    x = np.asarray(v, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("cannot project an empty vector")
    u = np.sort(x)[::-1]
    css = np.cumsum(u) - 1.0
    ks = np.arange(1, x.size + 1)
    # rho = the largest k whose k-th largest entry stays positive after the shift; k=1 always qualifies.
    rho = int(np.nonzero(u - css / ks > 0.0)[0][-1])
    theta = css[rho] / (rho + 1.0)
    projected: FloatArray = np.maximum(x - theta, 0.0)
    return projected


def kkt_violation(weights: FloatArray, gradient: FloatArray) -> float:
    """Absolute KKT gap: max gradient over the support minus min gradient overall (0 at an optimum)."""
    # At a simplex minimum every held asset has the same (smallest) marginal cost; any excess is improvable.
    support = weights > 0.0
    return float(gradient[support].max() - gradient.min())


def _scale(value: float, gradient: FloatArray) -> float:
    # Tolerances must be relative: daily variances are ~1e-4 while Sharpe gradients are ~1.
    return max(abs(value), float(np.abs(gradient).max()), np.finfo(np.float64).tiny)


def minimize_on_simplex(
    value_and_gradient: ValueAndGradient,
    x0: npt.ArrayLike,
    *,
    lipschitz: float = 1.0,
    support_solver: SupportSolver | None = None,
    tol: float = 1e-12,
    kkt_tol: float = 1e-9,
    max_iter: int = 50_000,
) -> SimplexSolution:
    """Minimise a smooth function over the probability simplex (global minimum if it is convex or pseudo-convex)."""
    x = project_to_simplex(x0)
    f, g = value_and_gradient(x)
    # Backtracking adapts the step, so `lipschitz` only needs to be a sensible starting guess.
    lip = max(lipschitz, np.finfo(np.float64).tiny)
    last_support: npt.NDArray[np.bool_] | None = None

    for iteration in range(max_iter + 1):
        support = x > 0.0
        if support_solver is not None and (last_support is None or not np.array_equal(support, last_support)):
            last_support = support
            candidate = support_solver(support)
            if candidate is not None and bool(np.all(candidate >= 0.0)) and candidate.sum() > 0.0:
                candidate = candidate / candidate.sum()
                fc, gc = value_and_gradient(candidate)
                slack = 1e-12 * _scale(f, g)
                if kkt_violation(candidate, gc) <= kkt_tol * _scale(fc, gc) and fc <= f + slack:
                    return SimplexSolution(weights=candidate, iterations=iteration, converged=True)
        if kkt_violation(x, g) <= kkt_tol * _scale(f, g):
            return SimplexSolution(weights=x, iterations=iteration, converged=True)
        if iteration == max_iter:
            break

        # Beck & Teboulle backtracking: grow the curvature estimate until the quadratic model upper-bounds f.
        while True:
            x_new = project_to_simplex(x - g / lip)
            d = x_new - x
            f_new, g_new = value_and_gradient(x_new)
            # The slack absorbs rounding when f barely changes near the optimum, which would otherwise inflate lip.
            if f_new <= f + float(g @ d) + 0.5 * lip * float(d @ d) + 1e-15 * abs(f):
                break
            lip *= 2.0
            if lip > 1e300:
                # Only reachable when f is not smooth or returns NaN; give up rather than loop forever.
                return SimplexSolution(weights=x, iterations=iteration, converged=False)
        step = float(np.abs(d).max())
        x, f, g = x_new, f_new, g_new
        if step <= tol:
            # The fixed-point residual |x - P(x - g/L)| is below tol: no further progress is possible in floats.
            return SimplexSolution(weights=x, iterations=iteration + 1, converged=True)
        lip *= 0.5  # try a longer step next time; backtracking corrects it if that was too optimistic

    return SimplexSolution(weights=x, iterations=max_iter, converged=False)
