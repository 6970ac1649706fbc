"""Choose the cell, the layer sizes and the learning rate with GridSearchCV.

Cells and optimizers are hyperparameter objects, so scikit-learn's own nested parameters
(``optimizer__learning_rate``) search them, and a cell object with its own settings
(``LSTMCell(forget_bias=1.0)``) can stand in a grid beside a string alias.

Run ``python examples/grid_search_cells.py`` (``--help`` for smaller settings).
"""

import argparse
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnlearn import LSTMCell, RNNClassifier, make_frequency_classification
from rnnlearn.optimizers import Adam


def run(n_samples=600, max_iter=15, n_jobs=2):
    """Grid-search a classifier on multivariate sequences; return the fitted search."""
    X, y = make_frequency_classification(
        n_samples, n_timesteps=40, n_features=4, n_classes=3, noise=0.5, random_state=0
    )
    search = GridSearchCV(
        RNNClassifier(optimizer=Adam(), max_iter=max_iter, random_state=0),
        {
            "cell": ["gru", LSTMCell(forget_bias=1.0)],
            "hidden_layer_sizes": [(16,), (32,)],
            "optimizer__learning_rate": [0.003, 0.01],
        },
        cv=3,
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def main():
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=600)
    parser.add_argument("--max-iter", type=int, default=15)
    args = parser.parse_args()
    search = run(args.n_samples, args.max_iter)
    print(f"best parameters: {search.best_params_}")
    print(f"best cross-validated accuracy: {search.best_score_:.3f}")


if __name__ == "__main__":
    main()
