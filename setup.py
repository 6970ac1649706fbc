"""Build rnnlearn's compiled recurrent kernels (everything else is in pyproject.toml)."""

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

kernels = Extension(
    "rnnlearn.cells._kernels",
    ["rnnlearn/cells/_kernels.pyx"],
    extra_compile_args=COMPILE_ARGS,
    extra_link_args=["-fopenmp"],
)
directives = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}
setup(ext_modules=cythonize([kernels], compiler_directives=directives))
