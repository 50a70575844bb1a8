# The two quick-start commands (see README.md) and their shared set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(dir $(wildcard plugins/*/setup.cfg)))
STAMP := $(VENV)/.fontana-installed
# The native engine (rust/), rebuilt when its Rust sources change.
NATIVE := $(VENV)/.fontana-native
NATIVE_SOURCES := rust/Cargo.toml rust/Cargo.lock rust/pyproject.toml $(wildcard rust/src/*.rs rust/src/*/*.rs)

.PHONY: devnet test lint

# A venv with the core, its test tools and every plugin in this repository, editable.
$(STAMP): setup.cfg $(wildcard plugins/*/setup.cfg)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[test]" $(foreach p,$(PLUGINS),-e $(p))
	touch $@

# Editable: Python files under rust/python are live, the extension is built in place.
$(NATIVE): $(STAMP) $(NATIVE_SOURCES)
	$(BIN)/python -m pip install --quiet --no-deps -e ./rust
	touch $@

devnet: $(STAMP)
	$(BIN)/fontana devnet

lint: $(STAMP)
	$(BIN)/ruff check .

# The pinned solc and hardhat the contract tests use (package-lock.json), when missing.
contracts/node_modules/.package-lock.json: contracts/package-lock.json
	npm ci --prefix contracts --no-audit --no-fund

# The suite runs on the native engine (`auto` picks it when the plugin loads); the tests
# of the ledger, recovery and proofs then run again on the Python reference implementations.
PYTHON_PATH_TESTS := $(addprefix tests/test_,ledger.py ledger_properties.py ledger_holds.py \
	transfers.py chain.py recovery_hostile.py pruning.py bindings.py)

test: lint $(NATIVE) contracts/node_modules/.package-lock.json
	$(BIN)/python -m pytest
	FONTANA_DISABLE_PLUGINS=native $(BIN)/python -m pytest -q $(PYTHON_PATH_TESTS)
