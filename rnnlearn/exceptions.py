"""Warnings and errors raised by rnnlearn, and the one helper that raises the warnings."""

# SPDX-License-Identifier: BSD-3-Clause

import os
import sys
import warnings

import joblib
import sklearn

_LIBRARY_DIRECTORIES = tuple(
    os.path.dirname(path) + os.sep for path in (__file__, sklearn.__file__, joblib.__file__)
)
"""Source folders of rnnlearn and of the libraries that call it for the user (search, CV)."""


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


def warn_at_call_site(message, category):
    """Warn with the location of the user's code that called into rnnlearn.

    That is the innermost frame outside rnnlearn, scikit-learn and joblib, so a warning
    of ``fit`` inside ``GridSearchCV`` points at the user's ``search.fit(...)`` line,
    however deep rnnlearn's own calls are (``warnings.warn``'s ``skip_file_prefixes``,
    which does the same, needs Python 3.12).

    Parameters
    ----------
    message : str
        The warning's text.
    category : type of Warning
        Its class.
    """
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRECTORIES):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
