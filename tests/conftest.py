import os

# Quiet TensorFlow's C++ logging and keep it on the CPU; must happen before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# One BLAS thread per test worker: make test runs two workers on two cores, and OpenBLAS's
# spinning threads, two per worker, slow each other down tenfold when they outnumber the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Check the graph's invariants after every rewrite, here and in the CLIs the tests start
# (TOCO_CHECK_INVARIANTS=0 measures the suite without them).
os.environ.setdefault("TOCO_CHECK_INVARIANTS", "1")


import zlib

import numpy as np
import pytest


@pytest.fixture
def repeatable_draws(request):
    """Reseeds the test module's RNG from the test's name, so a test draws the same values
    whichever xdist worker runs it, after whichever tests. Modules opt in with
    pytestmark = pytest.mark.usefixtures("repeatable_draws")."""
    seed = zlib.crc32(request.node.name.encode())
    request.module.RNG.bit_generator.state = np.random.default_rng(seed).bit_generator.state
