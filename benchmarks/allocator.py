"""Benchmark of ``keep_freed_memory`` (models/allocator.py) on the classifier's test workload.

The same work runs in two fresh processes, one with glibc's default ``malloc`` settings and one
after ``keep_freed_memory()``, one after the other in this run: the shipped Pose-SlowOnly's test
views (10 clips × flip, rendered by ``eval_views``) for ``--clips`` seeded synthetic clips, and
its forward pass on them. Each process prints its wall, user and system seconds per clip; the
ratios compare the two.

    python benchmarks/allocator.py [--clips 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WORKLOAD = """
import json, resource, sys, time
import numpy as np, torch
from posebeam.models.classifier import SHIPPED_CLASSIFIER, load_classifier
from posebeam.models.allocator import keep_freed_memory
from posebeam.transforms.clip_inputs import ClipSpec, eval_views

if sys.argv[1] == "keep":
    keep_freed_memory()
clips = int(sys.argv[2])
model, card = load_classifier(SHIPPED_CLASSIFIER)
spec = ClipSpec.from_card(card["clip"])
rng = np.random.default_rng(0)
samples = [(rng.uniform(0, 200, (45, 17, 2)).astype(np.float32), rng.random((45, 17)).astype(np.float32))
           for _ in range(clips + 1)]
def classify(keypoints, scores):
    with torch.no_grad():
        return model(torch.from_numpy(eval_views(keypoints, scores, spec))).softmax(1).mean(0)
classify(*samples[0])  # warm-up
usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for sample in samples[1:]:
    classify(*sample)
end = resource.getrusage(resource.RUSAGE_SELF)
wall = time.perf_counter() - start
user, system = end.ru_utime - usage.ru_utime, end.ru_stime - usage.ru_stime
print(json.dumps({"wall": wall / clips, "user": user / clips, "system": system / clips}))
"""


def measure(mode: str, clips: int) -> dict[str, float]:
    """Seconds per clip of the workload in a fresh process (``mode``: default or keep)."""
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, mode, str(clips)], capture_output=True, text=True, check=True
    )
    times: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=20)
    args = parser.parse_args()
    default, keep = measure("default", args.clips), measure("keep", args.clips)
    for name, times in (("glibc defaults", default), ("keep_freed_memory", keep)):
        print(
            f"{name:<18} {times['wall'] * 1e3:7.0f} ms per clip"
            f" (user {times['user'] * 1e3:5.0f} ms, system {times['system'] * 1e3:5.0f} ms)"
        )
    print(f"speed-up: {default['wall'] / keep['wall']:.2f}× wall time per clip (10 clips × flip each)")


if __name__ == "__main__":
    main()
