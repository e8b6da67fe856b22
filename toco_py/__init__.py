"""toco-py: convert frozen TensorFlow GraphDefs to TensorFlow Lite models."""

__version__ = "0.1.0"
