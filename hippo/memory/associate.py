"""GMM association (MemGAS): which earlier memory units a new unit links to.

For a new unit, its cosine similarities to the earlier units of its scope are ranked and the
`top` best kept; a two-component one-dimensional Gaussian mixture (scikit-learn's
`GaussianMixture`) is fitted on them, and the candidates in the component with the higher
mean become edges. The mixture needs a few points to say anything: with fewer than
`MIN_FIT` candidates the single most similar one is linked, so units of a first session
still join the graph (MemGAS's own code starts linking at the sixth session).
"""

from __future__ import annotations

import warnings

import numpy as np
from threadpoolctl import threadpool_limits

TOP_CANDIDATES = 30
MIN_FIT = 3
ROW_BLOCK = 256  # new units whose similarities are held at once (a block of rows, not N x N)


def gmm_select(similarities: np.ndarray, top: int = TOP_CANDIDATES) -> np.ndarray:
    """Indices into `similarities` of the candidates in the higher-mean mixture component,
    most similar first."""
    if similarities.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = top_order(similarities, top)
    values = similarities[order].astype(np.float64)
    if values.size < MIN_FIT:
        return order[:1]
    if float(values.max() - values.min()) < 1e-9:
        return order
    from sklearn.exceptions import ConvergenceWarning  # here: scikit-learn takes ~2 s to import,
    from sklearn.mixture import GaussianMixture  # which every `hippo ask` paid through the indexer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture = GaussianMixture(n_components=2, random_state=0).fit(values.reshape(-1, 1))
    labels = mixture.predict(values.reshape(-1, 1))
    return order[labels == int(np.argmax(mixture.means_.ravel()))]


def top_order(values: np.ndarray, top: int) -> np.ndarray:
    """`np.argsort(-values, kind="stable")[:top]` without sorting the whole row: the candidates
    at or above the top-th value (ties included), then those sorted stably."""
    if values.size > top:
        threshold = np.partition(values, values.size - top)[values.size - top]
        candidates = np.flatnonzero(values >= threshold)
        return candidates[np.argsort(-values[candidates], kind="stable")][:top]
    return np.argsort(-values, kind="stable")[:top]


def associate(new: np.ndarray, earlier: np.ndarray, causal: bool = False, top: int = TOP_CANDIDATES
              ) -> list[tuple[int, int, float]]:
    """(new row, earlier row, cosine) edges for each row of `new` (unit vectors) against
    `earlier`. With `causal`, `new` rows are the last rows of `earlier` in the same order and
    each may only link to rows before its own."""
    if new.shape[0] == 0 or earlier.shape[0] == 0:
        return []
    from sklearn import config_context

    first_new = earlier.shape[0] - new.shape[0]
    edges = []
    for start in range(0, new.shape[0], ROW_BLOCK):
        similarities = np.asarray(new[start:start + ROW_BLOCK] @ earlier.T, dtype=np.float64)
        # k-means init on 30 points: worker threads cost 4x more than they do; the inputs are
        # finite cosines, so sklearn's per-fit checks (a third of a fit's time) are skipped
        with threadpool_limits(1), config_context(assume_finite=True, skip_parameter_validation=True):
            for offset in range(similarities.shape[0]):
                row = start + offset
                limit = first_new + row if causal else earlier.shape[0]
                for column in gmm_select(similarities[offset, :limit], top):
                    edges.append((row, int(column), float(similarities[offset, column])))
    return edges
