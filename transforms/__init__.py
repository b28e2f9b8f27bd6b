"""Pure numeric kernels (numpy): boxes, tracking, sampling, heatmaps, PoseC3D clip inputs and the
synthetic motion model. No Beam imports."""
