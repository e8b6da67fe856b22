"""16x8 conv kernels (filled in by the int16x8 work)."""
