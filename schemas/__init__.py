"""Single source of truth for posebeam's data: skeleton layouts, records and table schemas."""

if __name__ != "posebeam.schemas":  # imported as `schemas` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.schemas, not {__name__}")
