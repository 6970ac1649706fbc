# The kernels of _kernels.pyx, compiled for x86-64-v4 (see setup.py and _compiled.py).
include "_kernels.pyx"
