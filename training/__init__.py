"""Training and evaluation off Beam: dataset loaders, held-out splits, the keypoint baseline and
the training loops of every model family."""

if __name__ != "posebeam.training":  # imported as `training` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.training, not {__name__}")
