"""What the classifier and the segmenter say about the sample street clip's pedestrians (people
walking through a station concourse, a few standing): the labels of every 3 s clip ``posebeam run``
would classify, and of every frame of every track it would segment, their shares and scores. Not a
timing benchmark: the README's real-footage figures.

    posebeam extract samples out          # or posebeam run; the sample is samples/vtest.avi
    python benchmarks/sample_labels.py out [--weights W] [--segmenter S]   # default: the shipped ones

Clips and tracks are cut and labelled exactly as ``posebeam run`` does (``ClassifyClips``'s and
``SegmentActions``'s cutting and model handlers, with the cards' temperatures), without a Beam job.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import cast

import numpy as np

from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.models.segment_track import SHIPPED_SEGMENTER
from posebeam.pipeline.classify import PoseClassifierHandler, clip_windows
from posebeam.pipeline.clips import ClassifyConfig
from posebeam.pipeline.segment import FrameLabels, SegmentConfig, SegmenterHandler, person_tracks
from posebeam.storage.parquet_tables import read_table


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("output", help="an output folder of posebeam extract or run on the sample")
    parser.add_argument("--weights", default=str(SHIPPED_CLASSIFIER))
    parser.add_argument("--segmenter", default=str(SHIPPED_SEGMENTER))
    args = parser.parse_args()
    config = ClassifyConfig(weights=args.weights)
    classes = verify_checkpoint(args.weights)["classes"]
    clips = [clip for _, clip in clip_windows(read_table(args.output, "keypoints"), config)]
    handler = PoseClassifierHandler(config)
    model = handler.load_model()
    probabilities = np.stack(
        [
            np.asarray(result.inference)
            for start in range(0, len(clips), config.batch_size)
            for result in handler.run_inference(clips[start : start + config.batch_size], model)
        ]
    )
    labels = [classes[i] for i in probabilities.argmax(axis=1)]
    report(f"clips of {args.output}; weights {args.weights}", labels, probabilities.max(axis=1))
    segmenter = SegmenterHandler(SegmentConfig(weights=args.segmenter))
    model = segmenter.load_model()
    frame_labels, frame_scores = [], []
    for key, track in person_tracks(read_table(args.output, "keypoints"), segmenter.spec.fps, 8):
        (result,) = segmenter.run_inference([track], model)
        inference = cast(FrameLabels, result.inference)
        frame_labels += [segmenter.classes[i] for i in inference.labels[key.grid_index]]
        frame_scores.append(inference.scores[key.grid_index])
    report(
        f"frames (keypoints rows) segmented; segmenter {args.segmenter}",
        frame_labels,
        np.concatenate(frame_scores),
    )


def report(what: str, labels: list[str], scores: np.ndarray) -> None:
    counts = Counter(labels)
    print(f"{len(labels)} {what}")
    for label, count in counts.most_common():
        mine = scores[np.array(labels) == label]
        print(f"  {label:14s} {count:5d}  {count / len(labels):6.1%}  median score {np.median(mine):.2f}")
    print(f"walk share {counts['walk'] / len(labels):.1%}; median top score {np.median(scores):.2f}")


if __name__ == "__main__":
    main()
