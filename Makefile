# 一网通 — two commands: `make run` starts the suite, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench venv system-deps fonts messages migrate serve clean node-tools native

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# The SFU's send path in C (meetings/sfu/native/_srtpsend.c, gcc + OpenSSL); without it the SFU
# sends through its Python path (slower) and says so in its log.
native: venv
	$(PY) scripts/build_native.py

system-deps:
	bash scripts/install-system-deps.sh

# axe-core for the accessibility test, from the npm registry (package.json), served to the tests locally.
node-tools: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json
	command -v npm >/dev/null || bash scripts/install-system-deps.sh scripts/node-deps.txt
	npm install --no-audit --no-fund --silent
	touch $@

fonts: venv
	$(PY) scripts/prepare_fonts.py

messages: venv
	$(PY) manage.py compilemessages -v0 --ignore=.venv

migrate: venv
	$(PY) manage.py migrate --noinput -v0

# The suite answers first: the fonts for 公文 PDFs are converted once (cached in var/fonts/prepared) in
# the background, at low priority, while the database is migrated and seeded and daphne serves; until
# they are ready a render uses the installed fallback face, and the first render after takes them.
# "listening on" is printed once daphne answers; each progress bar is printed once.
run: system-deps venv native
	@mkdir -p var
	@echo "[make run] preparing fonts in the background (log: var/prepare_fonts.log)"
	@( nice -n 10 $(PY) scripts/prepare_fonts.py > var/prepare_fonts.log 2>&1; \
	   grep -E "ready|cached|失败|done in" var/prepare_fonts.log ) & \
	$(PY) manage.py compilemessages -v0 --ignore=.venv && \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py seed_demo --if-empty && \
	$(PY) manage.py seed_documents --if-empty && \
	$(PY) manage.py seed_archive --if-empty && \
	$(PY) manage.py seed_meetings --if-empty || exit $$?; \
	echo "一网通 — 演示账号见上 (demo logins above; password Demo-2026!)"; \
	exec $(PY) scripts/serve.py $(HOST) $(PORT)

test: system-deps venv native fonts messages node-tools
	$(PY) -m pytest $(PYTEST_ARGS)

bench: system-deps venv native fonts
	$(PY) bench/run_all.py

clean:
	rm -rf var/test-*.sqlite3
