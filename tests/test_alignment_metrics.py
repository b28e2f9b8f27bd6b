"""The alignment evaluation protocol (TCC / LAV / VAOT / CASA conventions) on inputs worked by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from posebeam.models import alignment
from posebeam.models.alignment import (
    alignment_features,
    dtw_path,
    evaluate_alignment,
    first_matches,
    kendalls_tau,
    phase_classification,
    phase_progression,
    progression_targets,
    retrieval_ap,
    z_normalised,
)


def _ramp(length: int, dim: int = 3) -> np.ndarray:
    """Frames on a straight line, all distinct: the nearest neighbour of frame t of a copy is t."""
    return np.outer(np.arange(length, dtype=float), np.arange(1, dim + 1))


def _one_hot(phases: np.ndarray, num: int) -> np.ndarray:
    return np.eye(num)[phases]


# ---------------------------------------------------------------- Kendall's tau


@pytest.mark.parametrize("stride", [1, 2, 5])
def test_tau_of_identical_videos_is_one(stride: int) -> None:
    assert kendalls_tau([_ramp(20), _ramp(20), _ramp(20)], stride=stride) == pytest.approx(1.0)


def test_tau_of_a_reversed_video_is_minus_one() -> None:
    assert kendalls_tau([_ramp(12), _ramp(12)[::-1]], stride=1) == pytest.approx(-1.0)


def test_tau_drops_the_nan_of_a_constant_video() -> None:
    constant = np.ones((15, 3))
    # (ramp, ramp) pairs give 1; every pair with the constant video has constant neighbours: NaN.
    assert kendalls_tau([_ramp(15), _ramp(15), constant], stride=1) == pytest.approx(1.0)
    assert math.isnan(kendalls_tau([constant, constant + 1.0], stride=1))


def test_tau_subsamples_frames_zero_stride_two_stride_and_so_on() -> None:
    ramp = _ramp(21)
    scrambled = ramp.copy()
    off_grid = [t for t in range(21) if t % 5]
    scrambled[off_grid] = ramp[off_grid][::-1]  # only frames 0, 5, 10, 15, 20 stay in order
    assert kendalls_tau([ramp, scrambled], stride=5) == pytest.approx(1.0)
    assert kendalls_tau([ramp, scrambled], stride=1) < 0.5


def _slow_tau(videos: list[np.ndarray], stride: int) -> float:
    """TCC's loop, with squared distances, argmin and tau-b written out."""
    taus = []
    for i, j in itertools.permutations(range(len(videos)), 2):
        query, candidates = videos[i][::stride], videos[j][::stride]
        nns = []
        for q in query:
            dists = [float(np.sum((q - c) ** 2)) for c in candidates]
            nns.append(dists.index(min(dists)))
        n = len(nns)
        concordant = discordant = ties_y = 0
        for a, b in itertools.combinations(range(n), 2):
            sign = nns[b] - nns[a]  # x = arange: x[b] > x[a], never tied
            if sign > 0:
                concordant += 1
            elif sign < 0:
                discordant += 1
            else:
                ties_y += 1
        pairs = n * (n - 1) // 2
        denominator = math.sqrt(pairs * (pairs - ties_y))
        taus.append((concordant - discordant) / denominator if denominator else math.nan)
    kept = [tau for tau in taus if not math.isnan(tau)]
    return sum(kept) / len(kept)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_tau_matches_a_slow_loop(stride: int) -> None:
    rng = np.random.default_rng(0)
    # Short candidate videos among long ones: many tied neighbours, so tau-b's tie term matters.
    videos = [rng.normal(size=(length, 4)) for length in (17, 5, 23, 9)]
    videos.append(np.cumsum(rng.normal(size=(30, 4)), axis=0))
    assert kendalls_tau(videos, stride=stride) == pytest.approx(_slow_tau(videos, stride), abs=1e-12)


# ---------------------------------------------------------------- phase classification


def test_one_hot_embeddings_classify_every_frame() -> None:
    phases = [np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2]), np.array([0, 0, 0, 1, 2])]
    embeddings = [_one_hot(p, 3) for p in phases]
    for fraction in (0.1, 0.5, 1.0):
        assert phase_classification(embeddings, phases, embeddings, phases, fraction) == 1.0


def test_fraction_takes_the_first_videos_in_order() -> None:
    # Video 0 maps x = 0 to phase 0 and x = 1 to phase 1; videos 1..9 map it the other way round.
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    own, swapped = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])
    train = [x] * 10
    train_phases = [own] + [swapped] * 9
    val, val_phases = [x, x], [own, own]
    # max(1, int(10 * f)) videos: 1 for f = 0.1 and 0.05 (only video 0), 5 and 10 outvote it.
    assert phase_classification(train, train_phases, val, val_phases, 0.1) == 1.0
    assert phase_classification(train, train_phases, val, val_phases, 0.05) == 1.0
    assert phase_classification(train, train_phases, val, val_phases, 0.5) == 0.0
    assert phase_classification(train, train_phases, val, val_phases, 1.0) == 0.0


def test_classifier_is_an_ovo_rbf_svc_fitted_on_the_chosen_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn.svm

    seen: dict[str, object] = {}

    class Spy(sklearn.svm.SVC):
        def fit(self, x: np.ndarray, y: np.ndarray) -> Spy:
            seen.update(rows=len(x), params=self.get_params())
            return super().fit(x, y)

    monkeypatch.setattr(sklearn.svm, "SVC", Spy)
    phases = [np.array([0, 1] * (t + 1)) for t in range(10)]  # video t has 2t + 2 frames
    embeddings = [_one_hot(p, 2) for p in phases]
    phase_classification(embeddings, phases, embeddings, phases, 0.5)
    assert seen["rows"] == sum(2 * t + 2 for t in range(5))
    params = seen["params"]
    assert isinstance(params, dict)
    assert (params["kernel"], params["C"], params["gamma"]) == ("rbf", 1.0, "scale")
    assert params["decision_function_shape"] == "ovo"


def test_accuracy_is_frame_weighted_over_validation() -> None:
    train = [np.array([[0.0], [1.0]])] * 2
    train_phases = [np.array([0, 1])] * 2
    val = [np.array([[0.0]] * 9), np.array([[1.0]])]
    val_phases = [np.zeros(9, int), np.array([0])]  # 9 right frames, 1 wrong: 0.9 (per video: 0.5)
    assert phase_classification(train, train_phases, val, val_phases, 1.0) == pytest.approx(0.9)


# ---------------------------------------------------------------- phase progression


def test_progression_targets_by_hand() -> None:
    # tau_0 = 1 (last frame of phase 0), tau_1 = 3; T = 5.
    targets = progression_targets(np.array([0, 0, 1, 1, 2]), 3)
    assert np.allclose(targets[:, 0], (np.arange(5) - 1) / 5)
    assert np.allclose(targets[:, 1], (np.arange(5) - 3) / 5)
    # Phase 1 missing: tau_1 is the first frame of the next phase (2).
    assert np.allclose(progression_targets(np.array([0, 0, 2, 2]), 3)[:, 1], (np.arange(4) - 2) / 4)
    # Last phase missing: tau_1 = T - 1.
    assert np.allclose(progression_targets(np.array([0, 0, 1, 1]), 3)[:, 1], (np.arange(4) - 3) / 4)
    # TCC's loop starts at frame 1: a video that begins after phase 0 gets tau_0 = 1.
    assert np.allclose(progression_targets(np.array([1, 1, 2]), 3)[:, 0], (np.arange(3) - 1) / 3)


def _linear_videos(lengths_and_events: list[tuple[int, list[int]]]) -> tuple[list[np.ndarray], ...]:
    """Embedding [t/T, tau_0/T, tau_1/T]: each target is exactly column 0 minus another column."""
    embeddings, phases = [], []
    for length, events in lengths_and_events:
        labels = np.searchsorted(np.array(events), np.arange(length), side="left")
        t = np.arange(length) / length
        embeddings.append(np.stack([t, *[np.full(length, e / length) for e in events]], axis=1))
        phases.append(labels)
    return embeddings, phases


def test_progression_of_a_linear_embedding_is_one() -> None:
    # Phase of frame t: 0 while t <= tau_0, 1 while t <= tau_1, then 2.
    train, train_phases = _linear_videos([(20, [4, 12]), (30, [10, 20]), (25, [5, 9]), (18, [8, 14])])
    val, val_phases = _linear_videos([(22, [6, 15]), (27, [11, 19])])
    assert progression_targets(train_phases[0], 3)[4, 0] == 0.0  # the embedding's tau is TCC's
    assert phase_progression(train, train_phases, val, val_phases) == pytest.approx(1.0, abs=1e-9)


def test_progression_is_the_mean_over_events_of_r2_on_all_val_frames() -> None:
    rng = np.random.default_rng(1)
    train, train_phases = _linear_videos([(20, [4, 12]), (30, [10, 20]), (25, [5, 9]), (18, [8, 14])])
    val, val_phases = _linear_videos([(22, [6, 15]), (27, [11, 19]), (15, [3, 7])])
    train = [x + rng.normal(scale=0.2, size=x.shape) for x in train]
    val = [x + rng.normal(scale=0.2, size=x.shape) for x in val]
    x_train = np.hstack([np.concatenate(train), np.ones((sum(map(len, train)), 1))])
    x_val = np.hstack([np.concatenate(val), np.ones((sum(map(len, val)), 1))])
    y_train = np.concatenate([progression_targets(p, 3) for p in train_phases])
    y_val = np.concatenate([progression_targets(p, 3) for p in val_phases])
    r2 = []
    for event in range(2):
        weights = np.linalg.lstsq(x_train, y_train[:, event], rcond=None)[0]
        residual = np.sum((y_val[:, event] - x_val @ weights) ** 2)
        r2.append(1 - residual / np.sum((y_val[:, event] - y_val[:, event].mean()) ** 2))
    assert phase_progression(train, train_phases, val, val_phases) == pytest.approx(np.mean(r2))


# ---------------------------------------------------------------- retrieval


def test_retrieval_of_one_hot_embeddings_is_one() -> None:
    phases = [np.repeat([0, 1, 2], 6), np.repeat([0, 1, 2], [7, 5, 8]), np.repeat([0, 1, 2], [9, 6, 6])]
    embeddings = [_one_hot(p, 3) for p in phases]
    for k in (5, 10):
        assert retrieval_ap(embeddings, phases, k) == 1.0


def test_precision_at_k_by_hand() -> None:
    a, a_phases = np.array([[0.0], [10.0]]), np.array([0, 1])
    b, b_phases = np.array([[0.1], [0.2], [9.9]]), np.array([0, 1, 1])
    # k = 2: A0 -> B0, B1 (1/2); A1 -> B2, B1 (1); B0, B1, B2 -> both A frames (1/2 each).
    # Frame-weighted: (0.5 + 1 + 0.5 + 0.5 + 0.5) / 5 = 0.6 (the per-video mean would be 0.625).
    assert retrieval_ap([a, b], [a_phases, b_phases], 2) == pytest.approx(0.6)
    # k = 1: A0 -> B0 ok, A1 -> B2 ok, B0 -> A0 ok, B1 -> A0 wrong, B2 -> A1 ok.
    assert retrieval_ap([a, b], [a_phases, b_phases], 1) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="k=3"):
        retrieval_ap([a, b], [a_phases, b_phases], 3)  # A's support (B) has 3, B's (A) only 2


# ---------------------------------------------------------------- DTW


def test_dtw_of_identical_sequences_is_the_diagonal() -> None:
    a = np.random.default_rng(2).normal(size=(8, 5))
    cost, path = dtw_path(a, a)
    assert path == [(t, t) for t in range(8)]
    assert cost.shape == (8, 8) and np.allclose(np.diag(cost), 0.0)
    assert cost[0, 1] == pytest.approx(np.sum((a[0] - a[1]) ** 2))


def test_dtw_of_a_time_stretched_copy() -> None:
    a = np.random.default_rng(3).normal(size=(6, 4))
    b = np.repeat(a, 2, axis=0)  # every frame twice
    cost, path = dtw_path(a, b)
    assert path[0] == (0, 0) and path[-1] == (5, 11)
    steps = {(i1 - i0, j1 - j0) for (i0, j0), (i1, j1) in itertools.pairwise(path)}
    assert steps <= {(1, 0), (0, 1), (1, 1)}
    assert all(cost[i, j] == 0.0 for i, j in path)
    assert path == [(j // 2, j) for j in range(12)]
    assert first_matches(path).tolist() == [0, 2, 4, 6, 8, 10]


def test_dtw_ties_prefer_the_diagonal_then_a_step_back_in_a() -> None:
    # All costs zero: the pip dtw traceback goes diagonal from the end, then along b at row 0.
    _, path = dtw_path(np.zeros((3, 2)), np.zeros((5, 2)))
    assert path == [(0, 0), (0, 1), (0, 2), (1, 3), (2, 4)]
    _, path = dtw_path(np.zeros((4, 2)), np.zeros((2, 2)))
    assert path == [(0, 0), (1, 0), (2, 0), (3, 1)]


def test_dtw_matches_the_plain_recurrence() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(11, 3))
    cost, path = dtw_path(a, b)
    total = np.full((8, 12), np.inf)
    total[0, 0] = 0.0
    for i in range(7):
        for j in range(11):
            total[i + 1, j + 1] = cost[i, j] + min(total[i, j], total[i, j + 1], total[i + 1, j])
    assert sum(cost[i, j] for i, j in path) == pytest.approx(total[-1, -1])


def test_z_normalised_gives_each_dimension_mean_0_and_deviation_1() -> None:
    values = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    normal = z_normalised(values)
    spread = math.sqrt(8 / 3)  # population deviation of 1, 3, 5
    assert normal[:, 0] == pytest.approx([-2 / spread, 0.0, 2 / spread])
    assert normal[:, 1].tolist() == [0.0, 0.0, 0.0]  # a constant dimension
    assert normal.mean(axis=0) == pytest.approx(0.0, abs=1e-12)
    assert normal[:, [0, 2]].std(axis=0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        z_normalised(np.zeros(4))


def test_z_normalising_lets_dtw_match_a_shifted_and_scaled_execution() -> None:
    """The drift z-normalising removes: B is A time-stretched, offset and rescaled as a whole.
    Raw DTW matches all of A to B's first frames; on z-normalised sequences the path is the stretch."""
    a = np.stack([np.sin(np.linspace(0, 3, 10)), np.linspace(0, 1, 10) ** 2], axis=1)
    b = 0.5 * np.repeat(a, 2, axis=0) - 4.0
    assert first_matches(dtw_path(a, b)[1]).tolist() != list(range(0, 20, 2))
    assert first_matches(dtw_path(z_normalised(a), z_normalised(b))[1]).tolist() == list(range(0, 20, 2))


def test_alignment_features_put_both_parts_side_by_side_with_equal_weight() -> None:
    rng = np.random.default_rng(0)
    embeddings, keypoints = rng.normal(3.0, 5.0, (12, 4)), rng.normal(-1.0, 0.1, (12, 9))
    fused = alignment_features(embeddings, keypoints, keypoint_weight=1.0)
    assert fused.shape == (12, 13)
    assert fused[:, :4] == pytest.approx(z_normalised(embeddings) / 2)  # divided by sqrt(4)
    assert fused[:, 4:] == pytest.approx(z_normalised(keypoints) / 3)  # divided by sqrt(9)
    # each part adds 1 to the mean squared norm of a frame, whatever its width and scale
    assert (fused[:, :4] ** 2).sum(axis=1).mean() == pytest.approx(1.0)
    assert (fused[:, 4:] ** 2).sum(axis=1).mean() == pytest.approx(1.0)
    assert alignment_features(embeddings, keypoints, 2.0)[:, 4:] == pytest.approx(2 * fused[:, 4:])
    assert alignment_features(embeddings, keypoints, 0.0) == pytest.approx(z_normalised(embeddings) / 2)
    with pytest.raises(ValueError, match=">= 0"):
        alignment_features(embeddings, keypoints, -1.0)
    with pytest.raises(ValueError, match="12 embedded frames but 11"):
        alignment_features(embeddings, keypoints[:11])


# ---------------------------------------------------------------- all together and bad inputs


def test_evaluate_alignment_reports_every_metric() -> None:
    phases = [np.repeat([0, 1, 2], [6, 7, 8]), np.repeat([0, 1, 2], [7, 6, 9]), np.repeat([0, 1, 2], 7)]
    embeddings = [np.hstack([_one_hot(p, 3), _ramp(len(p), 1) / len(p)]) for p in phases]
    scores = evaluate_alignment(embeddings, phases, embeddings, phases)
    assert set(scores) == {"classification@0.1", "classification@0.5", "classification@1.0",
                           "progression", "kendalls_tau", "ap@5", "ap@10", "ap@15"}  # fmt: skip
    assert scores["classification@1.0"] == 1.0 and scores["kendalls_tau"] == pytest.approx(1.0)
    assert all(np.isfinite(value) for value in scores.values())


def test_bad_inputs_raise_readable_errors() -> None:
    video, labels = _ramp(6), np.zeros(6, int)
    with pytest.raises(ValueError, match="no videos"):
        kendalls_tau([])
    with pytest.raises(ValueError, match="at least 2"):
        kendalls_tau([video])
    with pytest.raises(ValueError, match="stride"):
        kendalls_tau([video, video], stride=0)
    with pytest.raises(ValueError, match="1 label arrays for 2 videos"):
        retrieval_ap([video, video], [labels], 1)
    with pytest.raises(ValueError, match="for 6 frames"):
        retrieval_ap([video, video], [labels, labels[:5]], 1)
    with pytest.raises(ValueError, match="integers"):
        retrieval_ap([video, video], [labels, labels.astype(float)], 1)
    with pytest.raises(ValueError, match="embedding sizes"):
        kendalls_tau([video, _ramp(6, 2)])
    with pytest.raises(ValueError, match="fraction"):
        phase_classification([video], [labels], [video], [labels], 0.0)
    with pytest.raises(ValueError, match="one phase"):
        phase_classification([video], [labels], [video], [labels], 1.0)
    with pytest.raises(ValueError, match="two phases"):
        phase_progression([video], [labels], [video], [labels])
    with pytest.raises(ValueError, match="NaN"):
        dtw_path(np.full((3, 2), np.nan), video[:, :2])
    with pytest.raises(ValueError, match="-d"):
        dtw_path(video, video[:, :2])
    assert alignment.RETRIEVAL_KS == (5, 10, 15)
