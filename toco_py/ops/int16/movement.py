"""16x8 movement kernels (filled in by the int16x8 work)."""
