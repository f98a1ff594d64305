# nyhetsbrev: two commands on a fresh machine, `make build` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test bench lint preview golden screenshots guide-screenshots clean catalog translations mutate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The compiled catalogs (.mo) of the editable install; a wheel gets its own from setup.py. Never committed.
MO := nyhetsbrev/locale/sv/LC_MESSAGES/nyhetsbrev.mo
$(MO): nyhetsbrev/locale/sv/LC_MESSAGES/nyhetsbrev.po $(STAMP)
	$(BIN)/pybabel -q compile -D nyhetsbrev -d nyhetsbrev/locale

translations: $(MO)

# pybabel extract + update: new messages (also command help and click's own) go into the .po without Swedish
# text; fill in their msgstr, then `make translations` (tests compile a stale catalog in memory).
catalog: $(STAMP)
	$(BIN)/python -m tools.catalog
	$(BIN)/pybabel -q compile -D nyhetsbrev -d nyhetsbrev/locale

build: $(STAMP) $(MO)
	$(BIN)/nyhetsbrev build 22:1
	@echo "Open build/22-1/email.html in a browser, or watch it while you write: $(BIN)/nyhetsbrev preview 22:1"
	@echo "Next: run nyhetsbrev as $(BIN)/nyhetsbrev (or '. $(BIN)/activate' first, then just nyhetsbrev --help)"

test: $(STAMP) $(MO)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/build.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/preview.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/image_memory.py
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

# The Swedish user guide's pictures (docs/sv/bilder/): the preview and the archive, from 22:1.
guide-screenshots: $(STAMP) $(MO)
	$(BIN)/python -m tests.guide_screenshots

# Mutation testing (not in CI: about 20 minutes on two cores). mutmut changes the modules listed under
# [tool.mutmut] in pyproject.toml one small change at a time and runs the tests that exercise the changed
# function; tools/mutation_score.py prints killed/total per module and the survivors (docs/mutation.md).
# A full run starts from nothing but the pinned equivalents (tools/equivalent_mutants.json; ALL=1 runs them too);
# `make mutate ONLY='nyhetsbrev.mail.jobs*'` re-runs some mutants in place.
MUTATE_STAMP := $(VENV)/.mutate-installed
MUTATE_CHILDREN ?= 3
$(MUTATE_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,mutate]'
	touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP) $(MO)
	$(if $(ONLY),,rm -rf mutants)
	$(if $(ONLY)$(ALL),,$(BIN)/python -m tools.mutation_score --seed)
	NYHETSBREV_REQUIRE_BROWSER=1 NYHETSBREV_REQUIRE_DOVECOT=1 NYHETSBREV_REQUIRE_POSTFIX=1 \
	  $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) $(ONLY) > mutants.log 2>&1 || (tail -40 mutants.log; false)
	$(BIN)/python -m tools.mutation_score

clean:
	rm -rf build screenshots
