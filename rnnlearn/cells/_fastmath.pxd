# cython: language_level=3, cdivision=True
"""Scalar nonlinearities for the fused recurrent kernels (inline, nogil).

float32 uses a clamped rational approximation of tanh (no libm call, so gcc vectorises the
loops that use it); float64 uses libm so that float64 finite-difference checks stay exact.
Derivatives are written in terms of the activation's output, as in rnnlearn.activations.
"""

from cython cimport floating
from libc.math cimport tanh, exp, log, expf, logf

# Activation codes; the Python side maps names to these (see ACTIVATION_CODES in the kernels).
cdef enum:
    ACT_IDENTITY = 0
    ACT_LOGISTIC = 1
    ACT_TANH = 2
    ACT_GOMPERTZ = 3
    ACT_RELU = 4


cdef inline float tanh_approx(float x) noexcept nogil:
    """tanh(x) ~= x * P(x^2) / Q(x^2) on [-9, 9], clamped outside (where float32 tanh is +-1).

    Coefficients of a minimax fit of the relative error over [-9, 9] (degrees 6 and 3 in
    x^2); tests/test_kernels.py measures the result against numpy.tanh (at most 6 float32
    ulps). The ternary clamps compile to compare/blend, and NaN falls through both
    comparisons, so NaN propagates.
    """
    x = <float>-9.0 if x < <float>-9.0 else x
    x = <float>9.0 if x > <float>9.0 else x
    cdef float t = x * x
    cdef float p = <float>-1.7697769612065308e-16
    p = p * t + <float>1.8896801906370505e-11
    p = p * t + <float>-1.30525152208908e-08
    p = p * t + <float>9.36849521045063e-06
    p = p * t + <float>0.0029327910311969033
    p = p * t + <float>0.12930821531039993
    p = p * t + <float>0.999999932480656
    cdef float q = <float>0.00022970379102994976
    q = q * t + <float>0.023813603834636664
    q = q * t + <float>0.46264134813790114
    q = q * t + <float>1.0
    return x * p / q


cdef inline floating tanh_(floating x) noexcept nogil:
    """tanh: the rational approximation in float32, libm in float64."""
    if floating is float:
        return tanh_approx(x)
    else:
        return tanh(x)


cdef inline floating sigmoid(floating x) noexcept nogil:
    """Logistic sigmoid as 0.5 * tanh(x / 2) + 0.5 (never overflows; rnnlearn's formula)."""
    return <floating>0.5 * tanh_(<floating>0.5 * x) + <floating>0.5


cdef inline floating exp_(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating log_(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating activate(floating x, int act) noexcept nogil:
    """The activation `act` (an ACT_* code) at `x`."""
    if act == ACT_TANH:
        return tanh_(x)
    elif act == ACT_LOGISTIC:
        return sigmoid(x)
    elif act == ACT_RELU:
        return x if x > 0 else <floating>0.0
    elif act == ACT_GOMPERTZ:
        # exp(-exp(-x)); -x clamped at 80 as rnnlearn does (exp(80) is finite in float32)
        return exp_(-exp_(<floating>80.0 if -x > <floating>80.0 else -x))
    else:
        return x


cdef inline floating sigmoid_derivative(floating y) noexcept nogil:
    """d sigmoid / dx from the output y."""
    return y * (<floating>1.0 - y)


cdef inline floating derivative(floating y, int act) noexcept nogil:
    """d act / dx expressed through the output y = act(x)."""
    if act == ACT_TANH:
        return <floating>1.0 - y * y
    elif act == ACT_LOGISTIC:
        return y * (<floating>1.0 - y)
    elif act == ACT_RELU:
        return <floating>1.0 if y > 0 else <floating>0.0
    elif act == ACT_GOMPERTZ:
        return -y * log_(y) if y > 0 else <floating>0.0
    else:
        return <floating>1.0


# Compile-time specialisation of the fused loops on the activation: a kernel is instantiated
# once with `TanhOnly` (the default; the switch disappears, so gcc can vectorise the loop)
# and once with `AnyActivation` (runtime switch on the ACT_* code). Callers pass a NULL
# pointer of the wanted tag type, e.g. `<TanhOnly*>NULL`; only its type matters.
ctypedef struct TanhOnly:
    char unused

ctypedef struct AnyActivation:
    char unused

ctypedef fused Activation:
    TanhOnly
    AnyActivation


cdef inline floating act_(floating x, int act, Activation *kind) noexcept nogil:
    """activate(x, act), with the switch resolved at compile time for TanhOnly."""
    if Activation is TanhOnly:
        return tanh_(x)
    else:
        return activate(x, act)


cdef inline floating dact_(floating y, int act, Activation *kind) noexcept nogil:
    """derivative(y, act), with the switch resolved at compile time for TanhOnly."""
    if Activation is TanhOnly:
        return <floating>1.0 - y * y
    else:
        return derivative(y, act)
