# Everything a developer or CI runs. Only Python 3.11+, make and the package
# registries are needed: uv (pinned) is fetched from PyPI into .uv/, the locked
# dependencies into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
BIN := .venv/bin
export UV_PYTHON_DOWNLOADS := never

.PHONY: install demo up down test test-unit test-integration test-postgres chaos lint fmt schemas bench postgres browser clean

install: $(BIN)/motcua

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .uv uv==$(UV_VERSION)

$(BIN)/motcua: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: install           ## start the embedded stack, run the scripted demo, stop
	$(BIN)/python -m devtools demo

up: install             ## run the embedded stack in the foreground (Ctrl-C stops)
	$(BIN)/motcua up

down:
	$(BIN)/motcua down

# Integration tests mostly wait on real processes: three test workers keep two cores busy.
WORKERS ?= 3

test: install postgres browser  ## the whole suite: unit + integration (real broker, PostgreSQL, Chromium)
	$(BIN)/pytest -n $(WORKERS)

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install postgres browser
	$(BIN)/pytest tests/integration

test-postgres: install postgres browser  ## the store-sensitive integration tests (marked store_semantics) again, on PostgreSQL
	$(BIN)/pytest tests/integration --store postgres -n $(WORKERS)

chaos: install          ## full lifecycle under kill -9 and a broker loss (DOSSIERS=300 for a short run)
	$(BIN)/python -m devtools chaos --dossiers $(or $(DOSSIERS),2000) $(CHAOS_ARGS)

# The PostgreSQL tests start their own server with pg_ctl; install it when we can.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	    else echo "PostgreSQL server not found: its tests will be skipped (apt-get install postgresql)"; fi; }

# The page tests drive Debian's headless Chromium through its chromedriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	    else echo "Chromium not found: the page tests will be skipped (apt-get install chromium chromium-driver)"; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy contracts motcua services ops devtools tests bench

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schemas: install        ## re-export contracts/schemas and docs/asyncapi.json after a deliberate change of a contract, a publisher or a subscriber
	$(BIN)/python -m devtools.export_schemas
	$(BIN)/python -m devtools.asyncapi

bench: install          ## the full pipeline beside the raw broker, intake alone, replay stats of a year, each service catching up (EVENTS=100000 CATCHUP_EVENTS=20000 for a quick run)
	$(BIN)/python -m bench.pipeline $(PIPELINE_ARGS)
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.replay --events $(or $(EVENTS),1000000)
	$(BIN)/python -m bench.catchup --events $(or $(CATCHUP_EVENTS),100000)

clean:
	rm -rf .venv .uv var .pytest_cache .mypy_cache .ruff_cache
