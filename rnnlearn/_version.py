"""The version of rnnlearn, in a module of its own so that any module can import it."""

# SPDX-License-Identifier: BSD-3-Clause

__version__ = "0.2.0.dev0"
