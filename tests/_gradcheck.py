"""Finite-difference gradients in float64, for gradient checks."""

import numpy as np


def numerical_gradient(function, x, eps=1e-4):
    """Five-point central-difference gradient of the scalar ``function()`` w.r.t. ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored. The stencil's error is
    ``O(eps**4)``, so with ``eps=1e-4`` both truncation and round-off stay near 1e-12.
    """
    grad = np.empty_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        values = []
        for step in (2 * eps, eps, -eps, -2 * eps):
            flat[i] = saved + step
            values.append(function())
        flat[i] = saved
        out[i] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * eps)
    return grad


def max_relative_error(analytic, numeric):
    """Largest ``|a - n| / max(|a| + |n|, 1e-4)`` over all entries (0 for empty arrays).

    The floor makes entries below 1e-4 in size count by absolute error (1e-10 at a
    relative tolerance of 1e-6), where finite differences are round-off noise.
    """
    analytic, numeric = np.ravel(analytic), np.ravel(numeric)
    if analytic.size == 0:
        return 0.0
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-4)
    return float(np.max(np.abs(analytic - numeric) / scale))
