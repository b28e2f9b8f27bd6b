"""Figures drawn from tables with matplotlib (Agg, no display): no Beam, no torch."""
