# nyhetsbrev: two commands on a fresh machine, `make build` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test bench lint preview golden screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/nyhetsbrev build 22:1
	@echo "Open build/22-1/email.html in a browser, or watch it while you write: $(BIN)/nyhetsbrev preview 22:1"
	@echo "Next: run nyhetsbrev as $(BIN)/nyhetsbrev (or '. $(BIN)/activate' first, then just nyhetsbrev --help)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/build.py
	$(BIN)/python bench/preview.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/big_section.py
	$(BIN)/python bench/publish.py

lint: $(STAMP)
	$(BIN)/python -m compileall -q nyhetsbrev tests bench

preview: $(STAMP)
	$(BIN)/nyhetsbrev preview 22:1

golden: $(STAMP)
	$(BIN)/python -m tests.golden

screenshots: $(STAMP)
	$(BIN)/python -m tests.screenshots

clean:
	rm -rf build screenshots
