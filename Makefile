# make demo   set up .venv with toco-py and convert an example model
# make test   set up .venv with the [dev] extra (TensorFlow, LiteRT, pytest) and run the tests

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BUILD := build

.PHONY: demo test test-fast proto clean

demo: $(VENV)/.base-installed
	@mkdir -p $(BUILD)
	$(BIN)/toco-py convert --graph_def_file examples/models/digits_cnn.pb \
		--output_file $(BUILD)/digits_cnn.tflite
	@echo "converted examples/models/digits_cnn.pb -> $(BUILD)/digits_cnn.tflite"

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -n 2 --durations=15 -q

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
