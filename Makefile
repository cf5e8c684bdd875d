# Two commands: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8080
DATA   ?= .data
BIN     = $(VENV)/bin

.PHONY: serve test bench lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(BIN)/.installed
	$(BIN)/python examples/serve.py --host $(HOST) --port $(PORT) --data $(DATA)

bench: $(BIN)/.installed
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(BIN)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .hypothesis
