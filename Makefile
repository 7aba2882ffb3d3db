# Set-up is one stamp file: it is rebuilt only when pyproject.toml or constraints.txt change.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The first interpreter >= 3.12 found: python3.12, pyenv's 3.12/3.13, python3.13, python3.
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python) \
	python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python) python3; do \
	if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	echo "$$p"; break; fi; done)

.PHONY: demo test test-slow lint lock clean notebooks

demo: $(STAMP)
	$(BIN)/workbench demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: no Python >= 3.12 found (PyMC 6, PyTensor 3, ArviZ 1 and nutpie need it)."; \
	  echo "Install one (e.g. 'pyenv install 3.12' or your system's python3.12 package),"; \
	  echo "then run 'make PYTHON=/path/to/python3.12 demo'."; exit 1; fi
	@[ -x $(BIN)/python ] && $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
	  || { rm -rf $(VENV); "$(PYTHON)" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# Regenerate the lock from the current environment after a tested upgrade.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) workbench-demo .pytest_cache

# Executed notebooks (with outputs) for readers, from the jupytext sources, at full sizes
# (WORKBENCH_QUICK=1 make notebooks for the reduced ones); build/ is git-ignored.
notebooks: $(STAMP)
	$(BIN)/python tutorials/notebooks.py build/notebooks
