"""Is the heatmap aligner more robust to missing keypoints than raw keypoints?

LA2DS (Hyder et al., arXiv 2305.19480) claims that aligning 2D skeleton *heatmaps* with a space-time
transformer is more robust to missing and noisy keypoints than CASA's coordinates. This script
scores the alignment protocol (``posebeam evaluate aligner``: units are repetitions, split by video
per action, metrics averaged over actions) with 0, 10, 30 and 50 % of the test tracks' keypoints
dropped at test time, for the aligner ``--weights`` and the raw-keypoint baseline (hip-centred,
torso-scaled coordinates and confidences), and prints Kendall's τ, phase progression and
classification@1.0 side by side. The dropped entries are chosen as in
``benchmarks/segmenter_dropout.py`` (:func:`segmenter_dropout.drop_fraction`: a rate's mask holds
every smaller rate's), the same masks for both.

    posebeam synth data/rep-train --motion mocap --kind repetitions --videos 200 --split train --seed 41
    posebeam synth data/rep-test --motion mocap --kind repetitions --videos 300 --split test --seed 42
    posebeam train aligner data/rep-train models/aligner --test-data data/rep-test
    python benchmarks/aligner_dropout.py data/rep-test \\
        --weights models/aligner/space_time_aligner.safetensors [--rates 0,10,30,50] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any, cast

import numpy as np
from segmenter_dropout import drop_fraction, dropout_rates, rate_rows

from posebeam.models.aligner import embed_track, load_aligner
from posebeam.training.alignment_units import Repetitions, evaluate_units, load_repetitions
from posebeam.training.datasets import FrameSequence
from posebeam.training.train_classifier import device
from posebeam.transforms.track_coordinates import hip_torso_coordinates

MODELS = ("aligner", "baseline")
SHOWN = {"kendalls_tau": "tau", "progression": "prog", "classification@1.0": "class"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both representations scored at every rate; the JSON object the script prints."""
    model, spec, _ = load_aligner(args.weights, device=str(device()))
    data = load_repetitions(args.test)
    sequences, units = data.sequences, data.units

    def aligner(s: FrameSequence) -> np.ndarray:
        return embed_track(model, s.keypoints, s.scores, spec)

    def baseline(s: FrameSequence) -> np.ndarray:
        return hip_torso_coordinates(s.keypoints, s.scores)

    rng = np.random.default_rng(args.seed)
    keys = [rng.random(s.scores.shape) for s in sequences]
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in MODELS}
    actions = 0
    for percent in args.rates:
        dropped = [drop_fraction(s, k, percent / 100) for s, k in zip(sequences, keys, strict=True)]
        for name, embed in zip(MODELS, (aligner, baseline), strict=True):
            scores = cast(dict[str, float], evaluate_units(embed, Repetitions(dropped, units), args.seed))
            actions = int(scores["actions"])
            results[name][f"{percent:g}"] = {key: round(float(scores[key]), 3) for key in SHOWN}
    return {
        "weights": str(args.weights), "test": args.test, "tracks": len(sequences), "actions": actions,
        "units": sum(len(found) for found in units.values()), "seed": args.seed,
        "dropped_percent": [f"{p:g}" for p in args.rates], **results,
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The header line and the side-by-side table."""
    header = (
        f"{result['tracks']} test tracks, {result['units']} repetitions, {result['actions']} actions scored"
    )
    return "\n".join([header, *rate_rows(result, MODELS, SHOWN, "6.3f")])


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("test", metavar="TEST_TABLES", help="keypoints, phase_labels and frame_labels_gt")
    parser.add_argument("--weights", required=True, help="the aligner's checkpoint")
    parser.add_argument(
        "--rates", type=dropout_rates, default=dropout_rates("0,10,30,50"), help="percent dropped"
    )
    parser.add_argument("--seed", type=int, default=0, help="the dropout masks and the split of units")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    main()
