"""A .tflite as a standalone C99 bundle: memory planner, C emitter, C kernels.

`bundle.generate_file(model, out_dir)` is the whole command; `emitter.generate(graph,
name)` renders the files of an IR graph; `verify.verify_bundle` builds a bundle and checks
it against the reference interpreter. Modules load on use: the CLI imports this package
at startup.
"""
