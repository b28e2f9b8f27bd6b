"""What a classifier says about the sample street clip's pedestrians (people walking through a
station concourse, a few standing): the labels of every 3 s clip ``posebeam run`` would classify,
their shares and scores. Not a timing benchmark: the README's real-footage figure.

    posebeam extract samples out          # or posebeam run; the sample is samples/vtest.avi
    python benchmarks/sample_labels.py out [--weights W]   # default: the shipped classifier

Clips are cut and classified exactly as ``posebeam run`` does (``ClassifyClips``'s windows and
model handler, with the card's temperature), without starting a Beam job.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.pipeline.classify import PoseClassifierHandler, clip_windows
from posebeam.pipeline.clips import ClassifyConfig
from posebeam.storage.parquet_tables import read_table


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("output", help="an output folder of posebeam extract or run on the sample")
    parser.add_argument("--weights", default=str(SHIPPED_CLASSIFIER))
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
    scores = probabilities.max(axis=1)
    counts = Counter(labels)
    print(f"{len(labels)} clips of {args.output}; weights {args.weights}")
    for label, count in counts.most_common():
        mine = scores[np.array(labels) == label]
        print(f"  {label:14s} {count:4d}  {count / len(labels):6.1%}  median score {np.median(mine):.2f}")
    print(f"walk share {counts['walk'] / len(labels):.1%}; median top score {np.median(scores):.2f}")


if __name__ == "__main__":
    main()
