"""Beam composites, options and the ``posebeam`` command line."""
