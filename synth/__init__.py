"""Synthetic people: the kinematic body, key poses and actions, scenes, noise and rendering, and
the writer behind ``posebeam synth``."""

if __name__ != "posebeam.synth":  # imported as `synth` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.synth, not {__name__}")
