# The two commands a newcomer runs: `make run` and `make test`. Everything they need is installed
# from the lock files into .venv; system packages come from `make sysdeps` (Debian, as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := ecabinet.settings

.PHONY: run test lint format bench messages sysdeps venv clean-venv check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"

# Stamp files so a changed lock reinstalls and an unchanged one costs nothing. The project itself
# is built in pip's isolated environment (a fresh venv's own setuptools cannot build wheels); the
# second form is for a machine with no package index, using what the venv has.
$(VENV)/.runtime-installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e . || $(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e . || $(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(VENV)/.runtime-installed $@

venv: $(VENV)/.runtime-installed

# Compiled catalogues (.mo) are build products, not in git. Without gettext the pages fall back to
# their source strings, which is worth a warning for `make run` but not a refusal to start.
messages: $(VENV)/.runtime-installed
	@if ! find ecabinet -path '*/locale/*' -name '*.po' | grep -q .; then \
	  echo "no translation catalogues to compile"; \
	elif ! command -v msgfmt >/dev/null; then \
	  echo "warning: gettext (msgfmt) is missing, pages show untranslated text; 'make sysdeps' as root installs it" >&2; \
	else \
	  cd ecabinet && ../$(BIN)/django-admin compilemessages -v 0; \
	fi

# Debian packages the tests drive from outside: Chromium for browser tests, gettext for messages,
# clamd (clamav-daemon) for the ClamAV tests, which start their own with a signature file they write,
# Tesseract with Vietnamese and French data for OCR of scanned pages (optional at run time).
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v pdfsig >/dev/null || missing="$$missing poppler-utils"; \
	command -v certutil >/dev/null || missing="$$missing libnss3-tools"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v clamd >/dev/null || [ -x /usr/sbin/clamd ] || missing="$$missing clamav-daemon"; \
	command -v tesseract >/dev/null || missing="$$missing tesseract-ocr"; \
	tesseract --list-langs 2>/dev/null | grep -qx vie || missing="$$missing tesseract-ocr-vie"; \
	tesseract --list-langs 2>/dev/null | grep -qx fra || missing="$$missing tesseract-ocr-fra"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (run 'sudo make sysdeps')" >&2; exit 1; fi; \
	fi

run: venv messages
	$(BIN)/ecabinet migrate --noinput -v 0
	$(BIN)/ecabinet seed-demo --if-empty
	$(BIN)/ecabinet serve

test: sysdeps $(VENV)/.dev-installed messages
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check ecabinet bench
	$(BIN)/ruff format --check ecabinet bench
	$(BIN)/mypy ecabinet

format: $(VENV)/.dev-installed
	$(BIN)/ruff format ecabinet bench
	$(BIN)/ruff check --fix ecabinet bench

bench: $(VENV)/.dev-installed messages
	$(BIN)/python bench/run.py

clean-venv:
	rm -rf $(VENV)
