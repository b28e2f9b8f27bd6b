"""Files without Beam: PyAV video decoding, Parquet table reading and publishing (local paths and
URIs through pyarrow's filesystems), the sample clip."""

if __name__ != "posebeam.storage":  # imported as `storage` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.storage, not {__name__}")
