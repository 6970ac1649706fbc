# The kernels of _kernels.pyx, compiled for x86-64-v3 (see setup.py and _compiled.py).
include "_kernels.pyx"
