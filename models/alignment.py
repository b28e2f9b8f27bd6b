"""Evaluation of frozen per-frame embeddings for self-supervised temporal alignment.

The protocol of TCC (github.com/google-research/google-research, ``tcc/evaluation``), kept by LAV
(github.com/trquhuytin/LAV-CVPR21), VAOT (github.com/trquhuytin/VAOT-ICCV25) and CASA
(github.com/taeinkwon/CASA, ``src/evaluation``), and the one LA2DS (arXiv 2305.19480) reports.
Every function takes one array per video: embeddings ``(T, D)`` and integer phase labels ``(T,)``.
The papers compute each metric per action and average over actions; that is the caller's loop.

- :func:`phase_classification`: ``SVC(decision_function_shape='ovo')`` with sklearn's defaults
  otherwise (RBF kernel, C = 1, gamma = 'scale'; the papers' "SVM" is not linear), fitted on all
  frames of the first ``max(1, int(fraction * N))`` training videos in the given order (no
  shuffling), scored by accuracy over all validation frames concatenated (frame-weighted), in
  [0, 1]. VAOT ``evals/phase_classification.py``, TCC ``classification.py``. CASA's own script uses
  a logistic regression instead; that variant is not offered here.
- :func:`phase_progression`: for each key event e = 0 … K-2 (K phases) the target of frame t is
  ``(t - tau_e) / T``, the signed, unclipped time to the event over the video length, where tau_e
  is the last frame of phase e (:func:`progression_targets`, TCC ``task_utils.py``, current
  version). One ``LinearRegression`` per event is fitted on all frames of all training videos (the
  fraction-1.0 value the papers report) and scored by R² = 1 - SS_res / SS_tot over all validation
  frames concatenated (sklearn ``score``); the result is the unweighted mean over events (TCC
  ``event_completion.py``, identical in CASA).
- :func:`kendalls_tau`: for every ordered pair (i, j), i != j, of videos, both are subsampled with
  ``[::stride]``; each query frame of i takes as nearest neighbour the argmin over j of the squared
  Euclidean distance (first index on ties); tau-b between the query order and the neighbour indices
  (``scipy.stats.kendalltau``). NaN values (a video whose neighbours are all one frame, or a single
  subsampled frame) are dropped, the rest averaged over the N(N-1) pairs; NaN if none is left. TCC
  ``kendalls_tau.py``, identical in LAV and CASA. TCC's and LAV's default stride is 5, CASA's 2.
- :func:`retrieval_ap` (AP@k, VAOT ``compute_ap``, cross-video): each video's frames query every
  frame of all the *other* videos by Euclidean k-nearest neighbours; precision@k is the fraction of
  the k neighbours sharing the query frame's phase, averaged over all query frames of all videos
  (frame-weighted). Ties in distance go to the earlier support frame (videos in order), where
  sklearn's ``NearestNeighbors`` leaves the order unspecified.
- :func:`dtw_path`: plain DTW as the pip ``dtw`` package computes it (github.com/pierre-rouanet/dtw,
  used by LAV ``visualize_alignment.py``): squared Euclidean local cost, steps (1,1), (1,0), (0,1)
  with equal weight, no window and no length normalisation; the traceback from the end prefers the
  diagonal, then a step back in ``a``, then in ``b``. LAV subsamples both sequences with one stride
  first (the caller's job) and keeps, for each frame of ``a``, the first matched frame of ``b``
  (:func:`first_matches`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import kendalltau

CLASSIFICATION_FRACTIONS = (0.1, 0.5, 1.0)
RETRIEVAL_KS = (5, 10, 15)


def _embeddings(videos: Sequence[np.ndarray], name: str, min_videos: int = 1) -> list[np.ndarray]:
    if len(videos) < min_videos:
        need = "no videos" if len(videos) == 0 else f"{len(videos)} video"
        raise ValueError(f"{name}: got {need}, need at least {min_videos}")
    arrays = [np.asarray(video, dtype=np.float64) for video in videos]
    for index, array in enumerate(arrays):
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError(f"{name}[{index}]: expected a (T, D) array with T, D >= 1, got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name}[{index}]: embeddings contain NaN or infinity")
    dims = sorted({array.shape[1] for array in arrays})
    if len(dims) > 1:
        raise ValueError(f"{name}: videos have different embedding sizes {dims}")
    return arrays


def _phases(phases: Sequence[np.ndarray], videos: list[np.ndarray], name: str) -> list[np.ndarray]:
    if len(phases) != len(videos):
        raise ValueError(f"{name}: {len(phases)} label arrays for {len(videos)} videos")
    labels = [np.asarray(labels_) for labels_ in phases]
    for index, (array, video) in enumerate(zip(labels, videos, strict=True)):
        if array.shape != (len(video),):
            raise ValueError(f"{name}[{index}]: labels of shape {array.shape} for {len(video)} frames")
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name}[{index}]: phase labels must be integers, got dtype {array.dtype}")
    return [array.astype(np.int64) for array in labels]


def _train_val(
    train: Sequence[np.ndarray],
    train_phases: Sequence[np.ndarray],
    val: Sequence[np.ndarray],
    val_phases: Sequence[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    train_x, val_x = _embeddings(train, "train"), _embeddings(val, "val")
    if train_x[0].shape[1] != val_x[0].shape[1]:
        raise ValueError(f"train embeddings are {train_x[0].shape[1]}-d, val are {val_x[0].shape[1]}-d")
    return (train_x, _phases(train_phases, train_x, "train_phases"),
            val_x, _phases(val_phases, val_x, "val_phases"))  # fmt: skip


def _tau_b(nearest: np.ndarray) -> float:
    if len(nearest) < 2:
        return float("nan")  # what scipy returns, without its small-sample warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant neighbour sequence: NaN, dropped by the caller
        return float(kendalltau(np.arange(len(nearest)), nearest).statistic)


def kendalls_tau(embeddings: Sequence[np.ndarray], stride: int = 5) -> float:
    """Mean Kendall's tau-b of nearest-neighbour alignment over all ordered pairs of videos."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    videos = [video[::stride] for video in _embeddings(embeddings, "embeddings", min_videos=2)]
    bounds = np.cumsum([0] + [len(video) for video in videos])
    everything = np.concatenate(videos)
    taus: list[float] = []
    for i, query in enumerate(videos):
        distances = cdist(query, everything, "sqeuclidean")  # element-wise the same as per pair
        for j in range(len(videos)):
            if j != i:
                taus.append(_tau_b(np.argmin(distances[:, bounds[j] : bounds[j + 1]], axis=1)))
    kept = np.asarray(taus)[~np.isnan(taus)]
    return float(kept.mean()) if kept.size else float("nan")


def phase_classification(
    train: Sequence[np.ndarray],
    train_phases: Sequence[np.ndarray],
    val: Sequence[np.ndarray],
    val_phases: Sequence[np.ndarray],
    fraction: float,
) -> float:
    """Frame accuracy in [0, 1] of an RBF ``SVC`` fitted on the first ``max(1, int(fraction·N))``
    training videos."""
    from sklearn.svm import SVC

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    train_x, train_y, val_x, val_y = _train_val(train, train_phases, val, val_phases)
    used = max(1, int(len(train_x) * fraction))
    x, y = np.concatenate(train_x[:used]), np.concatenate(train_y[:used])
    if np.unique(y).size < 2:
        raise ValueError(f"the first {used} training video(s) hold one phase only; the SVC needs two")
    model = SVC(decision_function_shape="ovo").fit(x, y)
    return float(np.mean(model.predict(np.concatenate(val_x)) == np.concatenate(val_y)))


def progression_targets(phases: np.ndarray, num_phases: int) -> np.ndarray:
    """``(T, num_phases - 1)`` targets ``(t - tau_e) / T``, one column per key event e.

    As TCC's current ``regression_labels_for_class``: tau_e is found at the first frame i >= 1 whose
    label exceeds e; it is i - 1 (the last frame of phase e) when frame i - 1 is in phase e, else i
    (the first frame of a later phase: phase e is missing). With no later phase, tau_e = T - 1.
    Frame 0 is never examined, so a video that starts after phase e gets tau_e = 1, not 0.
    """
    labels = np.asarray(phases)
    length = len(labels)
    frames = np.arange(length, dtype=np.float64)
    columns = []
    for event in range(num_phases - 1):
        later = np.flatnonzero(labels[1:] > event)
        if later.size == 0:
            transition = length - 1
        else:
            first = int(later[0]) + 1
            transition = first - 1 if labels[first - 1] == event else first
        columns.append((frames - transition) / length)
    return np.stack(columns, axis=1) if columns else np.zeros((length, 0))


def phase_progression(
    train: Sequence[np.ndarray],
    train_phases: Sequence[np.ndarray],
    val: Sequence[np.ndarray],
    val_phases: Sequence[np.ndarray],
    *,
    num_phases: int | None = None,
) -> float:
    """Mean over key events of the validation R² of one ``LinearRegression`` per event.

    ``num_phases`` (K) defaults to the largest label in train or val plus one; a dataset whose last
    phase never occurs should pass it.
    """
    from sklearn.linear_model import LinearRegression

    train_x, train_y, val_x, val_y = _train_val(train, train_phases, val, val_phases)
    largest = max(int(labels.max()) for labels in train_y + val_y)
    if min(int(labels.min()) for labels in train_y + val_y) < 0:
        raise ValueError("phase labels must be >= 0 for progression")
    phases = largest + 1 if num_phases is None else num_phases
    if phases < 2:
        raise ValueError(f"progression needs at least two phases (one key event), got {phases}")
    if largest >= phases:
        raise ValueError(f"label {largest} does not fit num_phases={phases}")
    x_train, x_val = np.concatenate(train_x), np.concatenate(val_x)
    y_train = np.concatenate([progression_targets(labels, phases) for labels in train_y])
    y_val = np.concatenate([progression_targets(labels, phases) for labels in val_y])
    scores = [
        LinearRegression().fit(x_train, y_train[:, event]).score(x_val, y_val[:, event])
        for event in range(phases - 1)
    ]
    return float(np.mean(scores))


def _retrieval_precisions(
    val: Sequence[np.ndarray], val_phases: Sequence[np.ndarray], ks: Sequence[int]
) -> dict[int, float]:
    videos = _embeddings(val, "val", min_videos=2)
    labels = _phases(val_phases, videos, "val_phases")
    lengths = [len(video) for video in videos]
    smallest_support = sum(lengths) - max(lengths)
    for k in ks:
        if not 1 <= k <= smallest_support:
            raise ValueError(f"k={k} must be in [1, {smallest_support}] (frames of the other videos)")
    bounds = np.cumsum([0, *lengths])
    everything, every_label = np.concatenate(videos), np.concatenate(labels)
    deepest = max(ks)
    sums = dict.fromkeys(ks, 0.0)
    for i, (query, query_labels) in enumerate(zip(videos, labels, strict=True)):
        distances = cdist(query, everything, "euclidean")
        distances[:, bounds[i] : bounds[i + 1]] = np.inf  # the support is every *other* video
        nearest = np.argsort(distances, axis=1, kind="stable")[:, :deepest]
        same = every_label[nearest] == query_labels[:, None]
        for k in ks:
            sums[k] += float(same[:, :k].sum(axis=1).sum()) / k
    return {k: float(total / bounds[-1]) for k, total in sums.items()}


def retrieval_ap(val: Sequence[np.ndarray], val_phases: Sequence[np.ndarray], k: int) -> float:
    """Cross-video precision@k of phase agreement, averaged over all query frames (VAOT's AP@k)."""
    return _retrieval_precisions(val, val_phases, [k])[k]


def z_normalised(embeddings: np.ndarray) -> np.ndarray:
    """Each dimension of one sequence ``(T, D)`` shifted to mean 0 and scaled to standard deviation 1
    over its frames (a constant dimension becomes 0), the usual step before DTW on time series.

    Executions by other people, cameras and speeds differ by an offset of the whole sequence in
    embedding space; removing it lets DTW match the motion (``benchmarks/align_boundaries.py``).
    """
    values = np.asarray(embeddings, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"embeddings must be (T, D), got shape {values.shape}")
    spread = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(spread > 1e-8, spread, 1.0)


KEYPOINT_WEIGHT = 1.0
"""The weight of the keypoints beside the embeddings in ``posebeam align``'s DTW features
(:func:`alignment_features`; chosen on the validation split, docs/method.md §7)."""


def alignment_features(
    embeddings: np.ndarray, keypoints: np.ndarray, keypoint_weight: float = KEYPOINT_WEIGHT
) -> np.ndarray:
    """What DTW compares for one sequence: its z-normalised embeddings ``(T, E)`` beside its
    z-normalised keypoint features ``(T, K)`` (e.g. hip-centred, torso-scaled coordinates), each
    divided by the square root of its width so that both weigh alike in the squared-Euclidean cost,
    the keypoints further scaled by ``keypoint_weight`` (0: the embeddings alone).

    The embeddings carry each frame's place within the motion around it, which pairs executions
    re-timed uniformly better than the keypoints do; the keypoints follow the pose itself, which
    pairs executions whose pace changes within the motion better (docs/method.md §7).
    """
    if keypoint_weight < 0:
        raise ValueError(f"keypoint_weight must be >= 0, got {keypoint_weight}")
    learned, pose = z_normalised(embeddings), z_normalised(keypoints)
    if len(learned) != len(pose):
        raise ValueError(f"{len(learned)} embedded frames but {len(pose)} frames of keypoints")
    parts = [learned / np.sqrt(learned.shape[1])]
    if keypoint_weight > 0:
        parts.append(keypoint_weight * pose / np.sqrt(pose.shape[1]))
    return np.concatenate(parts, axis=1)


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The ``(Ta, Tb)`` squared-Euclidean cost matrix and the DTW path from (0, 0) to (Ta-1, Tb-1).

    Accumulated cost R[i, j] = C[i, j] + min(R[i-1, j-1], R[i-1, j], R[i, j-1]), filled one
    anti-diagonal at a time (the same additions as the pip ``dtw`` package, so the same ties).
    """
    (first,) = _embeddings([a], "a")
    (second,) = _embeddings([b], "b")
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"a is {first.shape[1]}-d, b is {second.shape[1]}-d")
    cost = cdist(first, second, "sqeuclidean")
    rows, cols = cost.shape
    total = np.full((rows + 1, cols + 1), np.inf)  # padded: total[i + 1, j + 1] is R[i, j]
    total[0, 0] = 0.0
    for diagonal in range(rows + cols - 1):
        i = np.arange(max(0, diagonal - cols + 1), min(rows, diagonal + 1))
        j = diagonal - i
        best = np.minimum(np.minimum(total[i, j], total[i + 1, j]), total[i, j + 1])
        total[i + 1, j + 1] = cost[i, j] + best
    i, j = rows - 1, cols - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        step = int(np.argmin((total[i, j], total[i, j + 1], total[i + 1, j])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
        path.append((i, j))
    path.reverse()
    return cost, path


def first_matches(path: Sequence[tuple[int, int]]) -> np.ndarray:
    """For each frame of ``a`` on a DTW path, the first frame of ``b`` matched to it (LAV)."""
    pairs = np.asarray(path, dtype=np.int64).reshape(-1, 2)
    if pairs.size == 0:
        raise ValueError("empty path")
    _, first = np.unique(pairs[:, 0], return_index=True)
    return pairs[first, 1]


def evaluate_alignment(
    train: Sequence[np.ndarray],
    train_phases: Sequence[np.ndarray],
    val: Sequence[np.ndarray],
    val_phases: Sequence[np.ndarray],
    *,
    stride: int = 5,
    num_phases: int | None = None,
) -> dict[str, float]:
    """Every metric of the protocol for one action: classification at 10 / 50 / 100 % of the
    training videos, progression, Kendall's tau (on val, ``stride``) and AP@5/10/15 (on val)."""
    scores = {
        f"classification@{fraction}": phase_classification(train, train_phases, val, val_phases, fraction)
        for fraction in CLASSIFICATION_FRACTIONS
    }
    scores["progression"] = phase_progression(train, train_phases, val, val_phases, num_phases=num_phases)
    scores["kendalls_tau"] = kendalls_tau(val, stride)
    for k, precision in _retrieval_precisions(val, val_phases, RETRIEVAL_KS).items():
        scores[f"ap@{k}"] = precision
    return scores
