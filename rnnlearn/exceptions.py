"""Warnings and errors raised by rnnlearn."""

# SPDX-License-Identifier: BSD-3-Clause


class DivergenceWarning(UserWarning):
    """Training produced a non-finite loss and was stopped; the last finite weights were kept."""


class TrainingInterruptedWarning(UserWarning):
    """Training was interrupted (Ctrl-C); the model keeps the weights of its last step."""
