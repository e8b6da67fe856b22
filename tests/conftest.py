import os
import sys

# Quiet TensorFlow's C++ logging and keep it on the CPU; must happen before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

sys.path.insert(0, os.path.dirname(__file__))
