"""16x8 softmax kernels (filled in by the int16x8 work)."""
