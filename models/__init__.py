"""Torch modules, pose backends, checkpoint loading and the registry of model architectures.
Imports neither Apache Beam nor posebeam.pipeline or posebeam.training."""

if __name__ != "posebeam.models":  # imported as `models` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.models, not {__name__}")
