# Two entry points (see README): `make demo` and `make test`. Each creates .venv if missing.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: otherwise pip resolves a multi-GB CUDA build (STACK.md)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,diffusion]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/reelgate generate "a red ball bouncing on a wooden floor" -o out/demo.mp4 --json
	$(BIN)/reelgate verify out/demo.mp4
	$(BIN)/reelgate health
	$(BIN)/reelgate serve

lint: $(STAMP)
	$(BIN)/ruff check .

# The browser tests (tests/e2e) drive Debian's Chromium; CI runs as root on a fresh machine, so install it here.
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's Chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  || echo "could not install chromium: the e2e tests will say why"; }

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -rs
