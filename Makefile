# 一网通 — two commands: `make run` starts the suite, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench venv system-deps fonts messages migrate serve clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

system-deps:
	bash scripts/install-system-deps.sh

fonts: venv
	$(PY) scripts/prepare_fonts.py

messages: venv
	$(PY) manage.py compilemessages -v0 --ignore=.venv

migrate: venv
	$(PY) manage.py migrate --noinput -v0

run: system-deps venv fonts messages migrate
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py seed_documents --if-empty
	$(PY) manage.py seed_archive --if-empty
	$(PY) manage.py seed_meetings --if-empty
	@echo "一网通 http://$(HOST):$(PORT)/ — 演示账号见上 (demo logins above; password Demo-2026!)"
	$(PY) -m daphne -b $(HOST) -p $(PORT) asgi:application

test: system-deps venv fonts messages
	$(PY) -m pytest $(PYTEST_ARGS)

bench: system-deps venv fonts
	$(PY) bench/run_all.py

clean:
	rm -rf var/test-*.sqlite3
