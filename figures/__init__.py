"""Figures drawn from tables with matplotlib (Agg, no display): no Beam, no torch."""

if __name__ != "posebeam.figures":  # imported as `figures` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.figures, not {__name__}")
