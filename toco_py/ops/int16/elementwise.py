"""16x8 elementwise kernels (filled in by the int16x8 work)."""
