"""Pure numeric kernels (numpy and numba): boxes, tracking, sampling, heatmaps and PoseC3D clip
inputs. No Beam, no torch."""

if (
    __name__ != "posebeam.transforms"
):  # imported as `transforms` from the repo root: a second copy of each module
    raise ImportError(f"import this folder as posebeam.transforms, not {__name__}")
