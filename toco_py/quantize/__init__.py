"""8-bit quantization: parameter choice, calibration, fixed-point arithmetic and the rewrite."""
