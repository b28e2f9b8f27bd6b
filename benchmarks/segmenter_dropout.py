"""Is the heatmap segmenter more robust to missing keypoints than MS-TCN++ on raw coordinates?

Hyder et al. (action segmentation from 2D skeleton heatmaps) claim that per-frame joint + limb
heatmaps → CNN features → MS-TCN++ degrade less when keypoints go missing than the same MS-TCN++
fed coordinates. This script scores both on the same test tracks with 0, 10, 30 and 50 % of the
keypoints dropped at test time and prints frame accuracy, edit and F1@50 (percent) side by side:

- heatmaps: the trained checkpoint ``--weights`` (``posebeam train segmenter`` on TRAIN_TABLES,
  trained with keypoint-dropout augmentation), scored as ``posebeam evaluate segmenter`` does;
- coordinates: an MS-TCN++ of the checkpoint's sizes on each frame's 17 × (u, v, score), the
  joints in the heatmaps' smoothed crop box, centred and divided by its side
  (:func:`~posebeam.transforms.track_coordinates.track_coordinates`). It is trained here on
  TRAIN_TABLES by the checkpoint's own step (b) (:func:`~posebeam.training.train_segmenter.
  sequence_features` and :func:`~posebeam.training.train_segmenter.fit_tcn`): each track's clean
  view and ``augmented_copies`` augmented views (the card's augmentation: joint and frame dropout,
  box jitter, mirroring), the card's batch size, Adam rate, and epochs (``--epochs-tcn`` overrides).

Dropping: for each rate r, a fraction r of each test track's present (frame, joint) entries is set
to missing (score and coordinates 0); the entries are those of lowest seeded random keys, so both
models see the same masks and a rate's mask contains every smaller rate's. Scores are MS-TCN's
``eval.py`` over all test tracks together, unlabelled frames left out, every class a segment;
longer tracks are segmented in the spec's ``tcn_window`` windows by both models.

    posebeam synth data/train --motion mocap --kind sequences --videos 200 --split train --seed 1
    posebeam synth data/test --motion mocap --kind sequences --videos 60 --split test --seed 2
    posebeam train segmenter data/train models/segmenter --test-data data/test
    python benchmarks/segmenter_dropout.py data/train data/test \\
        --weights models/segmenter/heatmap_mstcn.safetensors [--epochs-tcn N] [--rates 0,10,30,50] \\
        [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posebeam.models.metrics import segmentation_scores
from posebeam.models.ms_tcn import ms_tcn_pp
from posebeam.models.segment_track import load_segmenter, segment_features, track_features
from posebeam.models.segmenter import TemporalSegmenter
from posebeam.schemas.layouts import COCO17
from posebeam.training.datasets import FrameSequence, frame_rate, load_frame_sequences
from posebeam.training.segmenter_inputs import Augmentation, SegmenterInputs, TrackView
from posebeam.training.train_classifier import device
from posebeam.training.train_segmenter import BACKGROUND, SegmenterConfig, fit_tcn, sequence_features
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.heatmaps import EPS
from posebeam.transforms.track_coordinates import VALUES_PER_JOINT, box_coordinates, track_coordinates

log = logging.getLogger(__name__)

MODELS = ("heatmaps", "coordinates")
SHOWN = {"accuracy": "Acc", "edit": "Edit", "f1@50": "F1@50"}
"""The scores in the table (the JSON has all five)."""


class CoordinateTCN(TemporalSegmenter):
    """MS-TCN++ on ``(N, 51, T)`` box-normalised coordinates, with the checkpoint's stage sizes."""

    def __init__(self, num_classes: int, spec: SegmenterSpec) -> None:
        super().__init__()
        in_dim = COCO17.num_joints * VALUES_PER_JOINT
        self.tcn = ms_tcn_pp(in_dim, num_classes, spec.num_layers_pg, spec.num_layers_r, spec.num_r,
                             spec.num_f_maps)  # fmt: skip


@dataclass(frozen=True)
class CoordinateInputs(SegmenterInputs):
    """The segmenter's step (b) inputs with coordinates for features: ``sequence_features`` builds
    the clean and augmented views exactly as for the heatmap model and asks :meth:`features`."""

    def features(self, model: TemporalSegmenter, view: TrackView, chunk_frames: int) -> Tensor:
        """``(51, T)`` coordinates of the view in its (jittered) boxes, mirrored with the view."""
        flip = COCO17.flip_index() if view.flip else None
        values = box_coordinates(view.keypoints, view.scores, view.boxes, flip_index=flip)
        return torch.from_numpy(values.T.copy()).to(next(model.parameters()).device)


def card_recipe(
    card: dict[str, Any], epochs_tcn: int | None, seed: int
) -> tuple[SegmenterConfig, Augmentation]:
    """The checkpoint's training settings (its resolved Adam rate included) and augmentation."""
    training = card["training"]
    known = {f.name for f in fields(SegmenterConfig)}
    config = SegmenterConfig(**{name: value for name, value in training.items() if name in known})
    config = replace(config, seed=seed, epochs_tcn=epochs_tcn or config.epochs_tcn)
    entry = dict(card.get("augmentation", {}))
    if "scale" in entry:
        entry["scale"] = tuple(entry["scale"])
    return config, Augmentation(**entry)


def train_coordinate_tcn(
    train_set: Sequence[FrameSequence], classes: list[str], spec: SegmenterSpec, config: SegmenterConfig,
    augmentation: Augmentation,
) -> CoordinateTCN:  # fmt: skip
    """The coordinate MS-TCN++ trained by train_segmenter's step (b), seeded by ``config.seed``."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = CoordinateTCN(len(classes), spec).to(device())
    items = sequence_features(model, CoordinateInputs(spec, augmentation), train_set, config, rng)
    fit_tcn(model, items, config, rng)
    return model


def drop_fraction(
    sequence: FrameSequence, keys: np.ndarray, fraction: float, eps: float = EPS
) -> FrameSequence:
    """The sequence with ``round(fraction · n)`` of its ``n`` present entries (score ≥ ``eps``) made
    missing: score and coordinates 0, those of lowest ``keys`` ``(T, 17)`` first."""
    present = np.flatnonzero(sequence.scores >= eps)
    chosen = present[np.argsort(keys.flat[present], kind="stable")][: round(fraction * len(present))]
    missing = np.zeros(sequence.scores.shape, dtype=bool)
    missing.flat[chosen] = True
    scores = np.where(missing, 0.0, sequence.scores).astype(sequence.scores.dtype)
    keypoints = np.where(missing[..., None], 0.0, sequence.keypoints).astype(sequence.keypoints.dtype)
    return replace(sequence, keypoints=keypoints, scores=scores)


def segmentation(
    probabilities: Callable[[FrameSequence], Tensor], sequences: Sequence[FrameSequence], classes: list[str]
) -> dict[str, float]:
    """Accuracy, edit and F1@{10,25,50} (percent, 2 decimals) of the argmax of ``probabilities``
    ``(C, T)`` over every labelled frame of ``sequences``, as ``score_tracks`` scores a model."""
    names = np.asarray(classes, dtype=object)
    truth, predicted = [], []
    for sequence in sequences:
        labelled = sequence.labels >= 0
        if labelled.any():
            labels = probabilities(sequence).argmax(dim=0).cpu().numpy()
            truth.append(names[sequence.labels[labelled]].tolist())
            predicted.append(names[labels[labelled]].tolist())
    scores = segmentation_scores(truth, predicted, BACKGROUND)
    return {name: round(value, 2) for name, value in scores.items()}


def dropout_rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or not all(0 <= rate <= 100 for rate in rates):
        raise argparse.ArgumentTypeError(f"rates must be percentages in [0, 100], got {text!r}")
    return rates


def _size(sequences: Sequence[FrameSequence]) -> dict[str, int]:
    return {"tracks": len(sequences), "frames": int(sum((s.labels >= 0).sum() for s in sequences))}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train the coordinate model, score both at every rate; the JSON object the script prints."""
    heatmap_model, spec, card = load_segmenter(args.weights, device=str(device()))
    classes: list[str] = card["classes"]
    config, augmentation = card_recipe(card, args.epochs_tcn, args.seed)
    train_set, _ = load_frame_sequences(args.train, args.train, classes=classes)
    test_set, _ = load_frame_sequences(args.test, args.test, classes=classes)
    rate = frame_rate(args.test)
    if rate is not None and abs(rate - spec.fps) > 0.01 * spec.fps:
        log.warning("test tracks at %.3g fps, the checkpoint's at %.3g: not resampled here", rate, spec.fps)
    started = time.monotonic()
    coordinate_model = train_coordinate_tcn(train_set, classes, spec, config, augmentation)
    minutes = (time.monotonic() - started) / 60
    dev = next(coordinate_model.parameters()).device

    def heatmaps(s: FrameSequence) -> Tensor:
        features = track_features(heatmap_model, s.keypoints, s.scores, spec, config.chunk_frames)
        return segment_features(heatmap_model, features, spec.tcn_window)

    def coordinates(s: FrameSequence) -> Tensor:
        values = torch.from_numpy(track_coordinates(s.keypoints, s.scores, spec).T.copy()).to(dev)
        return segment_features(coordinate_model, values, spec.tcn_window)

    rng = np.random.default_rng(args.seed)
    keys = [rng.random(s.scores.shape) for s in test_set]
    results: dict[str, dict[str, dict[str, float]]] = {model: {} for model in MODELS}
    for percent in args.rates:
        dropped = [drop_fraction(s, k, percent / 100) for s, k in zip(test_set, keys, strict=True)]
        for model, probabilities in zip(MODELS, (heatmaps, coordinates), strict=True):
            results[model][f"{percent:g}"] = segmentation(probabilities, dropped, classes)
    return {
        "weights": str(args.weights), "train": _size(train_set), "test": _size(test_set),
        "classes": len(classes), "epochs_tcn": config.epochs_tcn, "batch_size": config.batch_size,
        "lr": config.lr, "augmented_copies": config.augmented_copies, "seed": args.seed,
        "coordinate_minutes": round(minutes, 2), "dropped_percent": [f"{p:g}" for p in args.rates],
        **results,
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The header line and the side-by-side table."""
    train, test = result["train"], result["test"]
    lines = [
        f"train {train['tracks']} tracks, {train['frames']} frames; test {test['tracks']} tracks, "
        f"{test['frames']} frames; {result['classes']} classes; coordinate MS-TCN++: epochs "
        f"{result['epochs_tcn']}, {result['coordinate_minutes']:.1f} min",
    ]
    return "\n".join(lines + rate_rows(result, MODELS, SHOWN, "6.1f"))


def rate_rows(result: dict[str, Any], models: Sequence[str], shown: dict[str, str], spec: str) -> list[str]:
    """The side-by-side table: a column group per model, a row per dropped percentage, ``shown``'s
    scores (key → heading) formatted by ``spec``."""
    lines = [
        f"{'':9} | " + " | ".join(f"{m:^20}" for m in models),
        f"{'dropped %':>9} | " + " | ".join([" ".join(f"{n:>6}" for n in shown.values())] * len(models)),
    ]
    for percent in result["dropped_percent"]:
        cells = [" ".join(f"{result[m][percent][key]:{spec}}" for key in shown) for m in models]
        lines.append(f"{percent:>9} | " + " | ".join(cells))
    return [line.rstrip() for line in lines]


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("train", metavar="TRAIN_TABLES", help="the tables the checkpoint was trained on")
    parser.add_argument("test", metavar="TEST_TABLES", help="keypoints and frame_labels_gt to score on")
    parser.add_argument("--weights", required=True, help="the heatmap segmenter's checkpoint")
    parser.add_argument(
        "--epochs-tcn", dest="epochs_tcn", type=int, default=None,
        help="epochs of the coordinate MS-TCN++ (default: the card's training.epochs_tcn)",
    )  # fmt: skip
    parser.add_argument(
        "--rates", type=dropout_rates, default=dropout_rates("0,10,30,50"), help="percent dropped"
    )
    parser.add_argument("--seed", type=int, default=0, help="coordinate model training and dropout masks")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.epochs_tcn is not None and args.epochs_tcn < 1:
        parser.error(f"--epochs-tcn must be positive, got {args.epochs_tcn}")
    # Training progress goes to stderr when stdout carries the JSON object.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = run(args)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    main()
