# `make demo` and `make test` set themselves up on a fresh machine: they create
# .venv, install the package with its extras, and fetch the data they need.
# Each step is skipped when already done.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Remade whenever the package metadata changes.
INSTALLED := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL := 2
export NO_MKDOCS_2_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install data demo test lint docs clean

help:
	@echo "make demo    set up, fetch Fashion-MNIST, train, explain and export a ViT"
	@echo "make test    set up, lint, build the docs, run the tests (TensorFlow, JAX, PyTorch)"
	@echo "make lint    ruff check and ruff format --check"
	@echo "make docs    mkdocs build --strict (into site/)"
	@echo "make data    fetch the datasets the demo and tests need"
	@echo "make clean   remove .venv, site/ and caches (not the data cache)"

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev,data,jax,torch]'
	touch $@

# Idempotent: a dataset already in the cache ($$ZOO_DATA_DIR or
# ~/.cache/transformer-zoo) is not fetched again. Its completion marker there is
# the stamp, so that moving the cache is noticed.
data: $(INSTALLED)
	$(BIN)/python -m zoo.data fetch fashion_mnist cmudict l10n_en_de debian_descriptions

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: $(INSTALLED)
	$(BIN)/mkdocs build --strict

# The second pass, under JAX: the layers, the training toolkit (distribution,
# callbacks, resumes after a crash), each family's SavedModel exported
# from JAX, the XLA flag that `--deterministic` sets and the docstrings' examples.
JAX_TESTS := tests/layers tests/training tests/data/test_numpy_images.py \
	tests/test_export.py tests/models/seq2seq/test_export.py tests/test_retracing.py \
	tests/models/vit/test_family.py::test_saved_model_in_fresh_process_matches_keras \
	tests/models/forecaster/test_family.py::test_export_serves_raw_windows_without_zoo \
	tests/models/forecaster/test_family.py::test_quantile_model_exports_intervals \
	tests/test_cli_train.py::test_deterministic_switches_the_backend_to_deterministic_kernels \
	tests/test_docstring_examples.py

# The third pass, under PyTorch: the layers, the models, decoding, the
# training toolkit, the ViT and G2P families, the `zoo` command (SIGKILL and
# resume included), the forecaster from training to a SavedModel written
# afterwards from TensorFlow, and the docstrings' examples.
TORCH_TESTS := tests/layers tests/test_decoding.py tests/training tests/test_cli_train.py \
	tests/models/vit/test_vit_model.py tests/models/vit/test_family.py \
	tests/models/seq2seq/test_seq2seq_model.py tests/models/seq2seq/test_family.py \
	tests/models/forecaster/test_time_series_forecaster.py \
	tests/models/forecaster/test_baselines.py tests/models/forecaster/test_family.py \
	tests/models/test_keras_user_workflows.py tests/test_docstring_examples.py

# Two pytest-xdist workers, one per core of the CI machine. Each takes whole
# modules (a module's fixtures are built once), the slow ones first
# (tests/conftest.py orders them; --no-loadscope-reorder keeps that order).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint docs data
	KERAS_BACKEND=tensorflow $(PYTEST)
	KERAS_BACKEND=jax $(PYTEST) $(JAX_TESTS)
	KERAS_BACKEND=torch $(PYTEST) $(TORCH_TESTS)

demo: data
	$(BIN)/python examples/vit.py --preset tiny --epochs 3 --out runs/demo

clean:
	rm -rf $(VENV) site .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
