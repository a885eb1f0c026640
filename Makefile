# antre: the two jobs a fresh machine needs are `make demo` and `make test`.
# Each creates .venv on first use and installs the project into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test typecheck typecheck-firmware pytest bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

## demo: the laptop demo (embedded broker, central, gerai, kiosks and lobby on MQTT) on the example site
demo: $(DEMO_STAMP)
	$(BIN)/antre demo

## test: type checks (mypy for the packages, pyright with MicroPython stubs for the firmware) and all tests
test: $(STAMP) typecheck typecheck-firmware pytest

typecheck: $(STAMP)
	$(BIN)/python -m mypy

MPY_STUBS := .cache/mpy-stubs
$(MPY_STUBS)/machine.pyi: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --target $(MPY_STUBS) 'micropython-esp32-stubs>=1.24'

# pyright runs on Node.js: without it (and outside CI) this check says so and is skipped
typecheck-firmware: $(STAMP) $(MPY_STUBS)/machine.pyi
	@if command -v node >/dev/null 2>&1; then cd firmware && ../$(BIN)/pyright; \
	elif [ -n "$$ANTRE_REQUIRE_ALL" ]; then echo "typecheck-firmware: Node.js is required" >&2; exit 1; \
	else echo "typecheck-firmware: SKIPPED, pyright needs Node.js (apt-get install nodejs npm)"; fi

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: the benchmark suite (not part of test): needs Mosquitto; prints a table, writes bench/out/results.json
bench: $(STAMP)
	$(BIN)/python -m bench.run

## soak: a whole MPP day at 100x with a fault every 20 s (not part of test): needs Mosquitto; prints the table
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis build *.egg-info
