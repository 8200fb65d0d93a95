# Services for grading beyond one machine (docs/scale.md): PostgreSQL for the gradebook, a local Dask cluster.
# Included by the Makefile (-include mk/*.mk); uses PY and STAMP from there.

# PostgreSQL: a cluster of its own (not Debian's "main"), listening on loopback only.
PG_CLUSTER  ?= coursegrader
PG_PORT     ?= 5433
PG_USER     ?= coursegrader
PG_PASSWORD ?= coursegrader
PG_DB       ?= coursegrader
PG_URL       = postgresql+psycopg2://$(PG_USER):$(PG_PASSWORD)@127.0.0.1:$(PG_PORT)/$(PG_DB)
# psql as the database superuser, over the cluster's Unix socket (recipes cd / first: postgres cannot read every cwd)
PG_PSQL      = runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p $(PG_PORT) -d postgres

# Dask: a scheduler and worker processes on this machine (the scheduler file tells clients its address).
DASK_DIR     ?= build/dask
DASK_WORKERS ?= 2

.PHONY: postgres-up postgres-down postgres-url postgres-drop dask-up dask-down

# `make test` (what CI runs) starts PostgreSQL for tests/test_postgres.py and gives it the server's URL,
# unless COURSEGRADER_TEST_POSTGRES_URL is already set (your own server). Not root: the test is skipped.
ifeq ($(origin COURSEGRADER_TEST_POSTGRES_URL),undefined)
ifeq ($(shell id -u),0)
test: postgres-up
test: export COURSEGRADER_TEST_POSTGRES_URL = $(PG_URL)
endif
endif

## postgres-up: install (Debian) and start PostgreSQL on 127.0.0.1:$(PG_PORT) with role and database coursegrader; prints the gradebook URL
postgres-up:
	@set -e; cd /; \
	if ! command -v pg_lsclusters >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ]; then echo "postgres-up: PostgreSQL is not installed; as root: apt-get install postgresql" >&2; exit 1; fi; \
	  echo "installing postgresql (apt)" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then echo "postgres-up: needs root (creates a cluster and runs psql as postgres)" >&2; exit 1; fi; \
	line=$$(pg_lsclusters -h | awk '$$2 == "$(PG_CLUSTER)"'); \
	if [ -z "$$line" ]; then \
	  version=$$(ls /usr/lib/postgresql | sort -V | tail -n 1); \
	  echo "creating PostgreSQL $$version cluster $(PG_CLUSTER) on 127.0.0.1:$(PG_PORT)" >&2; \
	  pg_createcluster --start-conf manual -p $(PG_PORT) $$version $(PG_CLUSTER) >/dev/null; \
	  line=$$(pg_lsclusters -h | awk '$$2 == "$(PG_CLUSTER)"'); \
	fi; \
	set -- $$line; \
	if [ "$$3" != "$(PG_PORT)" ]; then echo "postgres-up: cluster $(PG_CLUSTER) uses port $$3, not $(PG_PORT) (PG_PORT=$$3?)" >&2; exit 1; fi; \
	if [ "$$4" != online ]; then \
	  pg_ctlcluster $$1 $(PG_CLUSTER) start -o "-c listen_addresses=127.0.0.1"; \
	fi; \
	$(PG_PSQL) -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$(PG_USER)'" | grep -q 1 \
	  || $(PG_PSQL) -c "CREATE ROLE $(PG_USER) LOGIN CREATEDB PASSWORD '$(PG_PASSWORD)'"; \
	$(PG_PSQL) -tAc "SELECT 1 FROM pg_database WHERE datname = '$(PG_DB)'" | grep -q 1 \
	  || $(PG_PSQL) -c "CREATE DATABASE $(PG_DB) OWNER $(PG_USER)"; \
	echo "$(PG_URL)"

## postgres-url: the gradebook URL of postgres-up (e.g. COURSEGRADER_DB_URL=$$(make -s postgres-url))
postgres-url:
	@echo "$(PG_URL)"

## postgres-down: stop the cluster of postgres-up (its data stays)
postgres-down:
	@line=$$(pg_lsclusters -h 2>/dev/null | awk '$$2 == "$(PG_CLUSTER)"'); set -- $$line; \
	if [ "$$4" = online ]; then pg_ctlcluster $$1 $(PG_CLUSTER) stop && echo "stopped PostgreSQL cluster $(PG_CLUSTER)"; \
	else echo "PostgreSQL cluster $(PG_CLUSTER) is not running"; fi

## postgres-drop: stop and delete the cluster of postgres-up with all its data
postgres-drop:
	@line=$$(pg_lsclusters -h 2>/dev/null | awk '$$2 == "$(PG_CLUSTER)"'); set -- $$line; \
	if [ -n "$$1" ]; then pg_dropcluster --stop $$1 $(PG_CLUSTER) && echo "dropped PostgreSQL cluster $(PG_CLUSTER)"; fi

## dask-up: a Dask scheduler and DASK_WORKERS single-threaded workers on 127.0.0.1, in the background; then make grade ARGS="--scheduler build/dask/scheduler.json"
dask-up: $(STAMP)
	@mkdir -p $(DASK_DIR); \
	if [ -f $(DASK_DIR)/scheduler.pid ] && kill -0 $$(cat $(DASK_DIR)/scheduler.pid) 2>/dev/null; then \
	  echo "Dask is running: scheduler file $(DASK_DIR)/scheduler.json (make dask-down stops it)"; exit 0; fi; \
	rm -f $(DASK_DIR)/scheduler.json; \
	nohup $(VENV)/bin/dask scheduler --host 127.0.0.1 --port 0 --no-dashboard \
	  --scheduler-file $(DASK_DIR)/scheduler.json >$(DASK_DIR)/scheduler.log 2>&1 </dev/null & echo $$! >$(DASK_DIR)/scheduler.pid; \
	for i in $$(seq 300); do [ -s $(DASK_DIR)/scheduler.json ] && break; sleep 0.1; done; \
	nohup $(VENV)/bin/dask worker --scheduler-file $(DASK_DIR)/scheduler.json --nworkers $(DASK_WORKERS) --nthreads 1 \
	  --host 127.0.0.1 --no-dashboard --local-directory $(DASK_DIR)/work >$(DASK_DIR)/workers.log 2>&1 </dev/null & \
	echo $$! >$(DASK_DIR)/workers.pid; \
	$(PY) -c "import sys; from distributed import Client; c = Client(scheduler_file=sys.argv[1], timeout=30); \
	c.wait_for_workers(int(sys.argv[2]), timeout=60); print(c.scheduler.address, '(scheduler file', sys.argv[1] + ')'); c.close()" \
	  $(DASK_DIR)/scheduler.json $(DASK_WORKERS)

## dask-down: shut down the scheduler and workers of dask-up
dask-down:
	@if [ -s $(DASK_DIR)/scheduler.json ]; then \
	  $(PY) -c "import sys; from distributed import Client; Client(scheduler_file=sys.argv[1], timeout=5).shutdown()" \
	    $(DASK_DIR)/scheduler.json 2>/dev/null || true; fi; \
	for name in workers scheduler; do \
	  pid=$$(cat $(DASK_DIR)/$$name.pid 2>/dev/null) || continue; \
	  for i in $$(seq 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	  kill $$pid 2>/dev/null && echo "stopped Dask $$name (pid $$pid)"; rm -f $(DASK_DIR)/$$name.pid; \
	done; rm -f $(DASK_DIR)/scheduler.json; echo "Dask is down"
