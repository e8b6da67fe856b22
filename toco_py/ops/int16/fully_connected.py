"""16x8 fully_connected kernels (filled in by the int16x8 work)."""
