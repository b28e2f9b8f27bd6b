"""Pure numeric kernels (numpy/torch): boxes, cropping, tracking, sampling. No Beam imports."""
