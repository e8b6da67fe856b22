"""16x8 reduce kernels (filled in by the int16x8 work)."""
