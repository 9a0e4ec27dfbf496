# All set-up goes through here: `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: venv install demo test test-slow clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Torch first, pinned, only when missing: the pin is a CPU build; an unpinned torch pulls a CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/ganvas demo --out $(DEMO_OUT)

test: install
	$(BIN)/python -m pytest -q

# pytest exits 5 when no slow test is collected; that is not a failure.
test-slow: install
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]

clean:
	rm -rf $(VENV) runs
