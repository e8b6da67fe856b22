"""Helpers the tests share (and the benchmarks reuse): TensorFlow-built networks and models,
the oracles (TensorFlow, LiteRT) and the tolerance policy's judges, C bundle checks, and
hand-made .tflite files."""
