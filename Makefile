# Two commands: `make serve` and `make test` (and `make lint`, which CI runs too). All create
# .venv on first use; `serve` installs only what serving needs (the pypiserver extra), `test`
# and `lint` the whole dev set.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8080
DATA   ?= .data
BIN     = $(VENV)/bin

.PHONY: serve test bench lint mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per install set: serving after testing installs nothing new, and testing
# after serving adds the test tools.
$(BIN)/.installed-serve: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[pypiserver]'
	touch $@

$(BIN)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: $(BIN)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(BIN)/.installed-serve
	$(BIN)/python examples/serve.py --host $(HOST) --port $(PORT) --data $(DATA)

bench: $(BIN)/.installed-dev
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# `ruff format --check` covers the code trees; the tests are not held to it yet.
lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pypitoken_core plugins benchmarks examples tools
	$(BIN)/mypy --strict pypitoken_core plugins/pypitoken_pypiserver plugins/pypitoken_devpi plugins/pypitoken_web tools

# Mutation testing (docs/mutation-testing.md): mutmut, configured in pyproject.toml, in a
# staging directory where the devpi plugin sits at the top level, under the name it is
# imported by. mutmut is installed here, not by `test`: the suite never needs it (pinned:
# tools/mutation.py uses its internals). MUTANTS narrows the run to mutant names or globs
# ('pypitoken_core.service.*'); SAMPLE=N runs a reproducible 1-in-N sample of them. PYTHONPATH
# makes the processes tests start (the CLI's) import the mutated code too.
MUTATION ?= .mutation
MUTANTS  ?=
SAMPLE   ?=
MUTMUT    = $(abspath $(BIN))/mutmut
mutation: $(BIN)/.installed-dev
	$(BIN)/python -m pip install --quiet 'mutmut==3.8.1'
	rm -rf $(MUTATION)
	mkdir -p $(MUTATION)
	for p in pypitoken_core plugins tests pyproject.toml; do ln -s $(CURDIR)/$$p $(MUTATION)/$$p; done
	ln -s $(CURDIR)/plugins/pypitoken_devpi $(MUTATION)/pypitoken_devpi
	cd $(MUTATION) && set -f && $(if $(SAMPLE),$(abspath $(BIN))/python $(CURDIR)/tools/mutation.py sample $(SAMPLE) $(MUTANTS),printf '%s\n' $(MUTANTS)) > names.txt
	cd $(MUTATION) && set -f && PYTHONPATH=$(abspath $(MUTATION))/mutants $(MUTMUT) run --max-children 2 $$(cat names.txt)
	cd $(MUTATION) && set -f && $(abspath $(BIN))/python $(CURDIR)/tools/mutation.py table $(MUTANTS)

clean:
	rm -rf $(VENV) $(DATA) $(MUTATION) .pytest_cache .hypothesis
