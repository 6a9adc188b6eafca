# The two commands of the README: `make run` and `make test`. Everything else serves them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTANCE ?= instance
CONFIG := $(INSTANCE)/oss-connect.yaml
JOBS ?= auto
APT := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

.PHONY: run test test-sqlite test-postgresql lint bench screenshots clean system-python chromium nginx

run: $(VENV)/.installed
	$(BIN)/oss-connect init --instance $(INSTANCE) $(if $(DEMO),--demo)
	$(BIN)/oss-connect run --config $(CONFIG) --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),5000)

test: $(VENV)/.installed-test chromium nginx
	$(BIN)/ruff check .
	tests/run-suite.sh $(BIN) $(JOBS)

test-sqlite: $(VENV)/.installed-test chromium nginx
	$(BIN)/pytest -n $(JOBS) --db sqlite $(ARGS)

test-postgresql: $(VENV)/.installed-test chromium nginx
	$(BIN)/pytest -n $(JOBS) --db postgresql $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test
	@ls bench/*.py >/dev/null 2>&1 && for script in bench/*.py; do $(BIN)/python $$script || exit 1; done || echo "no benchmarks yet"

$(VENV)/.installed: setup.cfg pyproject.toml | system-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# A fresh Debian/Ubuntu machine may lack the venv module or have a Python older than 3.11.
system-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "oss-connect needs Python 3.11 or newer ($(PYTHON) is older); set PYTHON=python3.11"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(APT) update && $(APT) install -y python3-venv; }

# Browser tests drive Debian's Chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(APT) update && $(APT) install -y chromium; }

# The nginx lines docs/deployment.md gives (link tokens out of its log) are tested with a real nginx.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { $(APT) update && $(APT) install -y nginx-light; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
