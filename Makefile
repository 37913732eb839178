# make test : create .venv if missing, install adjoin with its dev extras, run the tests
# make demo : the same setup, then the tour of the lecture's examples
# make bench: also install the peers (JAX, PyTorch, autograd) and run the benchmarks
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: test demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) examples/demo.py

$(VENV)/.installed-bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	touch $(VENV)/.installed-bench

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
