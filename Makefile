# Two commands a newcomer needs: `make run` and `make test`. Both are
# self-contained: they create .venv and install what is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/newsarchive.yaml

.PHONY: run test bench install deps-debian clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the test suite drives for real: Redis for distributed mode,
# Chromium for the browse pages (with a CJK font, so screenshots show Chinese).
# Installed only when missing.
deps-debian:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(BIN)/newsarchive daemon --config $(CONFIG)

# The suite starts its own services on loopback (SeaweedFS S3, the fixture
# news site, Redis) and stops them when it ends.
test: install deps-debian
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The crawl's archive outside /tmp, where test suites create and delete thousands
# of files (see README, Benchmarks: where the archive lives changes the figures).
BENCH_SCRATCH ?= /var/tmp/newsarchive-bench

bench: install
	$(BIN)/python bench/crawl_bench.py --scratch $(BENCH_SCRATCH)
	$(BIN)/python bench/scrapy_floor.py
	$(BIN)/python bench/catalog_bench.py
	$(BIN)/python bench/aeb_f1.py

clean:
	rm -rf $(VENV) .pytest_cache
