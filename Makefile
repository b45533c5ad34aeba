# Two commands for a fresh machine with python3:  make run  |  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin

.PHONY: run test test-fast install lint format lock demo clean simulate bench vendor-axe

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# axe-core, which the browser tests run in pages, is vendored (tests/browser/vendor/, no
# npm needed to test). To move to another version: change it in tests/browser/package.json,
# then `make vendor-axe` and commit what changed.
vendor-axe:
	npm install --silent --no-audit --no-fund --prefix tests/browser
	cp tests/browser/node_modules/axe-core/axe.min.js tests/browser/node_modules/axe-core/LICENSE \
	  tests/browser/vendor/axe-core/

# Set up and run the whole site locally: web server, Celery worker and beat
# (queue in files under var/, no Redis needed) and localstripe for Stripe (its
# objects kept in var/stripe-emulator.state). The address and the staff sign-in
# are printed once all is up; Ctrl-C stops everything.
run: export PATH := $(BIN):$(PATH)
run: export CELERY_BROKER_URL ?= filesystem://
run: export PORT_WEB ?= 8000
run: export PORT_STRIPE ?= 8420
run: export STRIPE_API_BASE ?= http://127.0.0.1:$(PORT_STRIPE)
run: export SITE_URL ?= http://127.0.0.1:$(PORT_WEB)
run: install
	python manage.py migrate --no-input
	python manage.py demo_data
	@trap : INT; honcho start -f Procfile.dev || test $$? -eq 130  # 130: stopped by Ctrl-C

# Test processes (pytest-xdist) for the whole suite; each has its own database,
# Stripe emulator, Celery queue and cache keys. The tests mostly wait on the
# emulator, the worker and each other's HTTP, so on 2 cores 4 processes are the
# fastest (2: +40%, 3: +10%, 5 or 6: no faster). PYTEST_WORKERS=0 runs in one.
PYTEST_WORKERS ?= 4

# The whole test suite, lint and migration checks. CI runs exactly this, with
# DATABASE_URL and CELERY_BROKER_URL pointing at PostgreSQL and Redis. The browser
# tests (tests/browser: Debian's chromium against the whole stack) run last, in one
# process of their own; they are skipped where chromium, PostgreSQL or redis-server
# is missing, except in CI.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not browser" $(PYTEST_ARGS)
	$(BIN)/pytest -m browser $(PYTEST_ARGS) || test $$? -eq 5  # 5: PYTEST_ARGS chose no browser test

# The fast layer, in well under a minute: every test that needs no Stripe emulator,
# Celery worker, live server, committed database or other process (see the markers
# in pyproject.toml; tests/conftest.py applies them from the fixtures each test uses).
test-fast: install
	$(BIN)/pytest -m "not integration and not slow" $(PYTEST_ARGS)

# The chaos simulation (bench/simulate.py): N random reader lifecycles through the
# whole stack on loopback (needs PostgreSQL running and redis-server, as CI has),
# then the ledger, receipts and memberships checked against Stripe's emulator.
N    ?= 200
SEED ?= 1
simulate: install
	$(BIN)/python -m bench.simulate --n $(N) --seed $(SEED) $(SIMULATE_ARGS)

# The performance figures against the product's targets (bench/__main__.py): starts
# a database, Redis, gunicorn, a worker and the emulator on loopback (PostgreSQL
# running and redis-server needed, as for simulate), measures the reader pages, the
# support-block API, webhook ingest, a burst of 10,000 events and /give/start, each
# against a bare Django view in the same run, and prints one table with the machine
# and its load. Needs wrk (installed with apt-get when missing). A few minutes;
# BENCH_ARGS="--admin" adds the admin at 1,000,000 payments (long the first time),
# "--only pages,api" some sections, "--markdown" the table for the README.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install --quiet --upgrade pip
	var/lock-venv/bin/pip install --quiet -e ".[dev]"
	var/lock-venv/bin/pip freeze --exclude-editable | grep -v '^patronage' > requirements.lock
	rm -rf var/lock-venv

# Start over: the virtualenv and everything local in var/ (database, Stripe emulator's
# objects, staff password, Celery's queue and schedule, test leftovers).
clean:
	rm -rf $(VENV) var
