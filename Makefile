# The two commands: `make run` (all-in-one node) and `make test` (the whole suite).
VENV ?= .venv
PYTHON ?= python3

.PHONY: run test test-sqlite test-postgresql bench clean ganeti-sandbox

$(VENV)/.installed-run: pyproject.toml scripts/venv.sh
	scripts/venv.sh $(VENV) .
	touch $@

$(VENV)/.installed-test: pyproject.toml scripts/venv.sh
	scripts/venv.sh $(VENV) '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(VENV)/bin/synnefo up

test: $(VENV)/.installed-test
	scripts/test.sh $(VENV)

bench: $(VENV)/.installed-test
	$(VENV)/bin/python bench/identity.py
	if $(VENV)/bin/python -m tests.pgcheck; then $(VENV)/bin/python bench/quotas.py; else echo 'bench/quotas.py skipped: needs PostgreSQL'; fi
	$(VENV)/bin/python bench/allocator.py
	$(VENV)/bin/python bench/simulated_rapi.py
	$(VENV)/bin/python bench/client.py
	if $(VENV)/bin/python -m tests.pgcheck && $(VENV)/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 5672), 1)" 2>/dev/null; then $(VENV)/bin/python bench/dispatcher.py && $(VENV)/bin/python bench/compute.py; else echo 'bench/dispatcher.py and bench/compute.py skipped: need PostgreSQL and RabbitMQ'; fi

# A real single-node Ganeti cluster in a namespace (root), attached to this node as a backend.
ganeti-sandbox: $(VENV)/.installed-run
	deploy/ganeti-sandbox up
	deploy/attach-ganeti-sandbox $(VENV)

clean:
	rm -rf $(VENV) build src/*.egg-info
