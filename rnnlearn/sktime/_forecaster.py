"""rnnlearn's direct multi-horizon forecaster as an sktime forecaster."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sktime.forecasting.base import BaseForecaster, ForecastingHorizon

from .. import RNNForecaster
from ..losses import Pinball
from ..preprocessing import make_windows

_TOO_FEW = (
    "coverage={} needs at least coverage / (1 - coverage) calibration windows and the fit "
    "calibrated on {}: the interval is infinite (the only one with that guarantee). Hold out "
    "more windows (estimator's validation_fraction) or give a longer series."
)


def _stacked(y, X, horizon):
    """``y`` as an array, with ``X``'s columns led by ``horizon`` beside it: row ``t`` holds
    ``y`` at ``t`` and ``X`` at ``t + horizon`` (zeros in the last ``horizon`` rows, which
    no training window reaches: their targets would lie past ``y``'s end)."""
    values = y.to_numpy(dtype=np.float64)
    if X is None:
        return values
    covariates = X.to_numpy(dtype=np.float64)
    led = np.zeros_like(covariates)
    led[: len(covariates) - horizon] = covariates[horizon:]
    return np.column_stack([values, led])


def _appended(seen, new):
    """``seen`` with ``new`` after it (``new`` replaces values at times both have)."""
    return pd.concat([seen[~seen.index.isin(new.index)], new]).sort_index()


class RNNForecasterSktime(BaseForecaster):
    """sktime forecaster: rnnlearn's direct :class:`~rnnlearn.RNNForecaster` on a series.

    ``fit(y, fh=fh)`` cuts ``y`` into windows of ``window_length`` values, each with the
    ``h`` values after it as its targets (``h`` the furthest step of ``fh``;
    :func:`~rnnlearn.preprocessing.make_windows` with ``all_steps=True``), and fits a
    clone of ``estimator`` on them: one network forecasts steps 1 to ``h`` at once.
    ``predict`` reads the window ending at the cutoff and returns the steps of ``fh``
    (relative or absolute, non-contiguous ones such as ``[1, 3, 12]`` included), each the
    model's output for that step. So ``fh`` is needed in ``fit``, and every step of it
    must lie after the cutoff (in-sample forecasts raise ``NotImplementedError``).

    ``predict_interval`` gives the estimator's split-conformal intervals (conformalised
    quantiles for a :class:`~rnnlearn.losses.Pinball` loss), calibrated on the windows
    its fit held out for early stopping (see :meth:`rnnlearn.RNNForecaster.predict_interval`
    for what it assumes). Within one call, each band is widened to hold the point forecast
    and the band of every lower coverage asked, so the bands nest and the quantiles of
    ``predict_quantiles`` (the interval ends of coverage ``|1 - 2 alpha|``, the point
    forecast at 0.5) never cross; the default point model's bands nest already, and are
    returned as they are. A coverage needs at least ``coverage / (1 - coverage)``
    calibration windows (9 for 90 %; the fit holds out none when it would hold out fewer
    than 10); with fewer, its interval is infinite, the only one that keeps the promise,
    and a warning says so. A short series needs a larger ``validation_fraction`` in
    ``estimator``.

    **Known-future covariates.** ``X``, given to ``fit`` on ``y``'s times, holds values
    known in advance (calendar features, planned prices or promotions). Each window then
    holds, beside its values, the covariates ``h`` steps later (row ``t``: ``y`` at ``t``
    and ``X`` at ``t + h``, the user guide's "Known-future covariates"), so the window
    ending at the cutoff holds those of every step from 1 to ``h``: ``predict`` needs
    ``X`` at all of them, not only at ``fh``'s (sktime's ``capability:non_contiguous_X``
    is False), and raises ``ValueError`` without. Do not pass a covariate measured with
    the series: the fit would read values of its targets' own times, which no forecast
    can. Windows are relative to their last value, the covariates' too, so a covariate
    acts through its changes over the window. Without ``X`` in ``fit``, ``X`` is ignored.
    A multivariate ``y`` is forecast column by column (one model each, by sktime).

    Parameters
    ----------
    window_length : int, default=24
        Values of ``y`` each window holds, at least 1 (two seasons of monthly data).
        ``y`` needs at least ``window_length + h`` values.
    estimator : RNNForecaster or None, default=None
        The model, cloned at each fit (``None``: ``RNNForecaster()``). Its parameters are
        searchable as ``estimator__<name>``; leave its ``target_features`` at ``None``.
    random_state : int, RandomState instance or None, default=None
        When not ``None``, the clone's ``random_state`` (its initialisation, shuffling and
        dropout); an int makes fits reproducible bit for bit. ``None`` keeps the
        estimator's own.

    Attributes
    ----------
    forecaster_ : RNNForecaster
        The fitted clone, with ``h`` outputs.
    horizon_ : int
        ``h``, the furthest step of ``fh``: the model forecasts steps 1 to ``h``.

    See Also
    --------
    rnnlearn.RNNForecaster : The forecaster on windows, for NumPy arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from rnnlearn import RNNForecaster
    >>> from rnnlearn.sktime import RNNForecasterSktime
    >>> t = np.arange(240)
    >>> y = pd.Series(50 + 0.2 * t + 5 * np.sin(2 * np.pi * t / 12),
    ...               index=pd.period_range("2000-01", periods=240, freq="M"))
    >>> model = RNNForecasterSktime(24, RNNForecaster(max_iter=5), random_state=0)
    >>> model.fit(y, fh=[1, 3, 12]).predict().index.astype(str).tolist()
    ['2020-01', '2020-03', '2020-12']
    >>> model.predict_interval(coverage=0.9).shape
    (3, 2)
    """

    _tags = {
        "authors": "rnnlearn developers",
        "maintainers": "rnnlearn developers",
        "y_inner_mtype": "pd.Series",
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": False,
        "capability:exogenous": True,
        "capability:non_contiguous_X": False,
        "capability:categorical_in_X": False,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
        "capability:update": True,
        "capability:random_state": True,
        "requires-fh-in-fit": True,
    }

    def __init__(self, window_length=24, estimator=None, random_state=None):
        self.window_length = window_length
        self.estimator = estimator
        self.random_state = random_state
        super().__init__()

    def _fit(self, y, X, fh):
        """Fit a clone of ``estimator`` on ``y``'s windows and their next ``h`` values.

        Parameters
        ----------
        y : pd.Series
            The series, univariate, without missing values.
        X : pd.DataFrame or None
            Known-future covariates, on ``y``'s index.
        fh : ForecastingHorizon
            The steps to forecast, all after the cutoff.

        Returns
        -------
        self : RNNForecasterSktime
            The fitted forecaster.
        """
        if not isinstance(self.window_length, Integral) or self.window_length < 1:
            raise ValueError(f"window_length must be an int >= 1; got {self.window_length!r}.")
        if self.estimator is not None and not isinstance(self.estimator, RNNForecaster):
            raise TypeError(
                f"estimator must be an rnnlearn.RNNForecaster or None; got {self.estimator!r}."
            )
        horizon = int(self._steps(fh).max())
        if X is not None:
            X = X.reindex(y.index)  # the rows of y's times, in y's order
        if len(y) < self.window_length + horizon:
            raise ValueError(
                f"y has {len(y)} values, but window_length={self.window_length} and the "
                f"furthest step of fh, {horizon}, need at least {self.window_length + horizon}."
            )
        windows, targets = make_windows(
            _stacked(y, X, horizon), self.window_length, horizon=horizon, target=0, all_steps=True
        )
        model = clone(RNNForecaster() if self.estimator is None else self.estimator)
        model.set_params(target_features=[0] * horizon)
        if self.random_state is not None:
            model.set_params(random_state=self.random_state)
        self.forecaster_ = model.fit(windows, targets)
        self.horizon_ = horizon
        self._cur_y, self._cur_X = y, X
        return self

    def _update(self, y, X=None, update_params=True):
        """Append ``y`` to the series; refit on all of it when ``update_params``.

        Parameters
        ----------
        y : pd.Series
            Values after the cutoff (values at times already seen replace them).
        X : pd.DataFrame or None
            The covariates at ``y``'s times; needed when ``fit`` had ``X``.
        update_params : bool, default=True
            Refit the network on every value seen, with the same ``fh`` (a fresh fit);
            ``False`` keeps the fitted model, which forecasts from the newest window.

        Returns
        -------
        self : RNNForecasterSktime
            The updated forecaster.
        """
        if self._cur_X is not None and X is None:
            raise ValueError("The forecaster was fitted with X: update needs X beside y.")
        history = _appended(self._cur_y, y)
        covariates = None if self._cur_X is None else _appended(self._cur_X, X.reindex(y.index))
        if update_params:
            self._fit(history, covariates, self.fh)
        self._cur_y, self._cur_X = history, covariates
        return self

    def _steps(self, fh):
        """The steps of ``fh`` after the cutoff, as ints (1 is the next value)."""
        return np.asarray(fh.to_relative(self.cutoff), dtype=np.intp)

    def _latest_window(self, X):
        """The window ending at the cutoff, ``(1, window_length, 1 + n_covariates)``: the
        last ``window_length`` values and, with covariates, those ``h`` steps later."""
        n_seen, length, horizon = len(self._cur_y), self.window_length, self.horizon_
        values = self._cur_y.to_numpy(dtype=np.float64)[-length:, None]
        if self._cur_X is None:
            return values[None]
        covariates = np.concatenate([self._cur_X.to_numpy(dtype=np.float64), self._future(X)])
        return np.column_stack([values, covariates[n_seen - length + horizon :]])[None]

    def _future(self, X):
        """The covariates of steps 1 to ``h`` after the cutoff, from ``X`` (else raise)."""
        steps = ForecastingHorizon(np.arange(1, self.horizon_ + 1), freq=self.cutoff)
        times = steps.to_absolute_index(self.cutoff)
        future = None if X is None else X.reindex(index=times, columns=self._cur_X.columns)
        if future is None or future.isna().to_numpy().any():
            raise ValueError(
                f"The forecaster was fitted with X, so it needs X at every step from 1 to "
                f"{self.horizon_} after the cutoff ({times[0]} to {times[-1]}), values known in "
                f"advance; got {'no X' if X is None else f'X on {list(X.index)}'}."
            )
        return future.to_numpy(dtype=np.float64)

    def _predict(self, fh, X):
        """Forecast the steps of ``fh`` from the window ending at the cutoff.

        Parameters
        ----------
        fh : ForecastingHorizon
            The steps to forecast, those of ``fit``.
        X : pd.DataFrame or None
            Covariates at steps 1 to ``h`` after the cutoff, when ``fit`` had ``X``.

        Returns
        -------
        pd.Series
            The forecasts, indexed by ``fh``'s absolute times, named as ``y``.
        """
        forecast = self.forecaster_.predict(self._latest_window(X))[0, self._steps(fh) - 1]
        return pd.Series(forecast, index=fh.to_absolute_index(self.cutoff), name=self._cur_y.name)

    def _bands(self, fh, X, coverages):
        """``{coverage: (lower, upper)}`` at the steps of ``fh``, each band widened to
        hold the point forecast and the bands of the lower ``coverages``; infinite where
        the fit calibrated on too few windows for the coverage (with a warning)."""
        window, columns = self._latest_window(X), self._steps(fh) - 1
        lower = upper = self.forecaster_.predict(window)[0, columns]
        residuals = self.forecaster_.calibration_residuals_
        n_calibration = 0 if residuals is None else len(residuals)
        bands = {}
        for coverage in sorted(coverages):
            if np.ceil((n_calibration + 1) * coverage) > n_calibration:
                # stack: _bands, _predict_interval (or _quantiles), sktime's method, caller
                warnings.warn(_TOO_FEW.format(coverage, n_calibration), UserWarning, stacklevel=4)
                high = np.full((1, self.horizon_), np.inf)
                low = -high
            else:
                low, high = self.forecaster_.predict_interval(window, coverage=coverage)
            lower, upper = np.minimum(lower, low[0, columns]), np.maximum(upper, high[0, columns])
            bands[coverage] = (lower, upper)
        return bands

    def _predict_interval(self, fh, X, coverage):
        """Conformal prediction intervals at the steps of ``fh``, nested over ``coverage``.

        Parameters
        ----------
        fh : ForecastingHorizon
            The steps to forecast, those of ``fit``.
        X : pd.DataFrame or None
            Covariates at steps 1 to ``h`` after the cutoff, when ``fit`` had ``X``.
        coverage : list of float
            Coverages, each in ``(0, 1)``.

        Returns
        -------
        pd.DataFrame
            Rows ``fh``'s absolute times; columns ``(variable, coverage, "lower" or
            "upper")``, as sktime lays them out.
        """
        bands = self._bands(fh, X, coverage)
        values = np.column_stack([end for c in coverage for end in bands[c]])
        columns = self._get_columns(method="predict_interval", coverage=coverage)
        return pd.DataFrame(values, index=fh.to_absolute_index(self.cutoff), columns=columns)

    def _predict_quantiles(self, fh, X, alpha):
        """Quantiles at the steps of ``fh``: the ends of the nested conformal intervals.

        Parameters
        ----------
        fh : ForecastingHorizon
            The steps to forecast, those of ``fit``.
        X : pd.DataFrame or None
            Covariates at steps 1 to ``h`` after the cutoff, when ``fit`` had ``X``.
        alpha : list of float
            Probabilities in ``(0, 1)``: ``alpha < 0.5`` is the lower end of the interval of
            coverage ``1 - 2 alpha``, ``alpha > 0.5`` the upper end of coverage
            ``2 alpha - 1``, and 0.5 the point forecast.

        Returns
        -------
        pd.DataFrame
            Rows ``fh``'s absolute times; columns ``(variable, alpha)``.
        """
        coverages = {abs(1 - 2 * a) for a in alpha if a != 0.5}
        bands = self._bands(fh, X, coverages)
        point = self._predict(fh, X).to_numpy()
        values = np.column_stack(
            [point if a == 0.5 else bands[abs(1 - 2 * a)][int(a > 0.5)] for a in alpha]
        )
        columns = self._get_columns(method="predict_quantiles", alpha=alpha)
        return pd.DataFrame(values, index=fh.to_absolute_index(self.cutoff), columns=columns)

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Small settings for sktime's estimator checks: a few epochs of a tiny network.

        Half the windows are held out, so that a 50-value series calibrates 90 %
        intervals; the second set has a pinball loss (conformalised quantiles).

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused: one list serves every check.

        Returns
        -------
        list of dict
            Constructor arguments.
        """
        small = {"hidden_layer_sizes": 4, "max_iter": 3, "validation_fraction": 0.5}
        quantiles = Pinball(quantiles=(0.05, 0.25, 0.5, 0.75, 0.95))
        return [
            {"window_length": 4, "estimator": RNNForecaster(**small), "random_state": 0},
            {
                "window_length": 3,
                "estimator": RNNForecaster(**small, loss=quantiles),
                "random_state": 1,
            },
        ]
