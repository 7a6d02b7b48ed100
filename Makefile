# Stadslab: `make demo` and `make test` are the two commands a newcomer needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS  ?=

.PHONY: demo test install assets serve clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) assets

# Front-end packages come from the npm registry through package-lock.json.
assets:
	@if [ -f package-lock.json ]; then \
		command -v npm >/dev/null || { echo "npm is required (apt-get install nodejs npm)"; exit 1; }; \
		npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	fi

demo: install
	$(BIN)/stadslab demo --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/stadslab serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the quick benchmark scripts with small sizes (benchmarks/run_all.py); not part of CI
bench: install
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules src/stadslab/web/static/vendor stadslab.db stadslab.db-wal stadslab.db-shm
