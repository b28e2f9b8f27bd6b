"""Torch model builders, pose backends and checkpoint loading. Imports no Beam."""
