"""8-bit quantization: parameter choice, calibration and the rewrite (the fixed-point
arithmetic it shares with the int8 kernels lives in ops/fixed_point.py)."""
