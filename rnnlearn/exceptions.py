"""Warnings and errors raised by rnnlearn."""

# SPDX-License-Identifier: BSD-3-Clause


class DivergenceWarning(UserWarning):
    """Training produced a non-finite loss and was stopped; the last finite weights were kept."""


class TrainingInterruptedWarning(UserWarning):
    """Training was interrupted (Ctrl-C); the model keeps the weights of its last step."""


class CollapseWarning(UserWarning):
    """Training went wrong without diverging.

    Raised by ``fit`` when the training loss rose back by more than a quarter of what the
    fit had gained and of its lowest value (the weights of the lowest loss are kept), or
    when the fitted model is degenerate on its own training data: a classifier that
    predicts one class for every sequence, or a regressor that does no better than
    predicting the mean (R² <= 0).
    """
