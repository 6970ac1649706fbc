"""Build rnnlearn's compiled recurrent kernels (everything else is in pyproject.toml).

The kernels are compiled once for the platform's baseline instruction set and, on x86-64
with GCC or Clang, also for x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512): the fused
elementwise passes run 1.3 to 1.6 times faster with the wider vectors. At import,
rnnlearn.cells._compiled picks the best build the CPU runs, so a built package stays
portable.
"""

import platform
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# -fno-trapping-math lets gcc turn the clamps of the fused loops into vector blends; it
# changes no result (NumPy runs with floating-point traps off). The alias-check budget lets
# it vectorise loops over several row pointers.
COMPILE_ARGS = [
    "-O3",
    "-fopenmp",
    "-fno-trapping-math",
    "--param",
    "vect-max-version-for-alias-checks=64",
]
X86_64_LEVELS = ("x86-64-v3", "x86-64-v4")


def kernel_extension(suffix="", march=None):
    """The kernels' extension module, ``_kernels`` plus ``suffix``, built for ``march``."""
    name = "_kernels" + suffix
    return Extension(
        f"rnnlearn.cells.{name}",
        [f"rnnlearn/cells/{name}.pyx"],
        depends=["rnnlearn/cells/_kernels.pyx", "rnnlearn/cells/_packed_product.h"],
        extra_compile_args=COMPILE_ARGS + ([f"-march={march}"] if march else []),
        extra_link_args=["-fopenmp"],
    )


extensions = [kernel_extension()]
if platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32":
    extensions += [
        kernel_extension("_" + level.replace("-", "_"), level) for level in X86_64_LEVELS
    ]
directives = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}
setup(
    ext_modules=cythonize(extensions, compiler_directives=directives),
    options={"build_ext": {"parallel": 2}},
)
