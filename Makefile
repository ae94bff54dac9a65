# DuckMail: `make run` starts the whole stack, `make test` runs the whole suite.
SHELL := /bin/bash
PYTEST_ARGS ?=

.PHONY: setup run test lint mailconfig

setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	.venv/bin/ruff check .
	DUCKMAIL_DEBUG=1 .venv/bin/python -m pytest $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check .

mailconfig: setup
	DUCKMAIL_DEBUG=1 .venv/bin/python manage.py gen_mailconfig
