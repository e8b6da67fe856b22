"""16x8 activation kernels (filled in by the int16x8 work)."""
