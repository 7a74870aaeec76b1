# TA-socdefenders: build, package, vet and test the add-on.
# Every target bootstraps the pinned virtual environment it needs under .venv/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

APP := TA-socdefenders
PY39 := $(shell tools/python-for 3.9)
PY313 := $(shell tools/python-for 3.13)
PY311 := $(shell tools/python-for 3.11)
VERSION := $(shell $(PY39) -c 'import json; print(json.load(open("globalConfig.json"))["meta"]["version"])')

VENV := .venv
BUILD_VENV := $(VENV)/build
APPINSPECT_VENV := $(VENV)/appinspect
TEST_VENV_39 := $(VENV)/test-py3.9
TEST_VENV_313 := $(VENV)/test-py3.13
CONFCHECK_VENV := $(VENV)/confcheck
SLIM_VENV := $(VENV)/slim
STUDIO_VENV := $(VENV)/studio
STUDIO := tools/studio
# ucc-gen 6.6.0 breaks with pip 26 (see README, "Building"): it runs this pip instead.
UCC_PIP_VERSION := 25.3

OUTPUT := output
APP_DIR := $(OUTPUT)/$(APP)
DIST := dist
PACKAGE := $(DIST)/$(APP)-$(VERSION).tar.gz
REPORTS := build/reports
# Size budget (README, "Package size"): 5.5 MB for the .tar.gz, of which UCC's monitoring
# dashboard page brings 3.2 MB of compressed JavaScript, and 3.5 MB for lib/ unpacked; it
# catches a regression such as solnlib's gRPC/OpenTelemetry stack (+8 MB) coming back.
PACKAGE_BUDGET_BYTES := 5500000
LIB_BUDGET_BYTES := 3500000

# venv bootstrap: $(call make_venv,DIR,PYTHON,REQUIREMENTS)
define make_venv
	rm -rf $(1)
	$(2) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check -r $(3)
	touch $(1)/.installed
endef

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BUILD_VENV)/.installed: requirements/build.txt
	$(call make_venv,$(BUILD_VENV),$(PY39),requirements/build.txt)

$(APPINSPECT_VENV)/.installed: requirements/appinspect.txt
	$(call make_venv,$(APPINSPECT_VENV),$(PY311),requirements/appinspect.txt)

$(CONFCHECK_VENV)/.installed: requirements/confcheck.txt
	$(call make_venv,$(CONFCHECK_VENV),$(PY311),requirements/confcheck.txt)

$(SLIM_VENV)/.installed: requirements/slim.txt
	$(call make_venv,$(SLIM_VENV),$(PY311),requirements/slim.txt)

$(STUDIO_VENV)/.installed: requirements/studio.txt
	$(call make_venv,$(STUDIO_VENV),$(PY313),requirements/studio.txt)

$(STUDIO)/node_modules/.package-lock.json: $(STUDIO)/package-lock.json
	npm ci --prefix $(STUDIO) --no-audit --no-fund

$(STUDIO)/dist/harness.js: $(STUDIO)/node_modules/.package-lock.json $(STUDIO)/src/harness.jsx
	cd $(STUDIO) && bash build.sh

.PHONY: studio
studio: $(STUDIO_VENV)/.installed $(STUDIO)/dist/harness.js ## set up the offline Dashboard Studio renderer (npm packages, bundle)

$(TEST_VENV_39)/.installed: requirements/test.txt
	$(call make_venv,$(TEST_VENV_39),$(PY39),requirements/test.txt)

$(TEST_VENV_313)/.installed: requirements/test.txt requirements/lint.txt
	$(call make_venv,$(TEST_VENV_313),$(PY313),requirements/lint.txt)

.PHONY: build
build: $(BUILD_VENV)/.installed ## generate the add-on into output/TA-socdefenders
	rm -rf $(OUTPUT) build/stage
	mkdir -p build/stage
	@# ucc-gen rewrites the globalConfig it reads: give it a copy, keep the source clean.
	cp globalConfig.json build/stage/globalConfig.json
	PATH="$(abspath $(BUILD_VENV))/bin:$$PATH" $(BUILD_VENV)/bin/ucc-gen build \
	    --source package --config build/stage/globalConfig.json \
	    --ta-version $(VERSION) --output $(OUTPUT) \
	    --python-binary-name $(abspath $(BUILD_VENV))/bin/python \
	    --pip-version $(UCC_PIP_VERSION)

.PHONY: package
package: build ## build dist/TA-socdefenders-<version>.tar.gz and print its size
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(BUILD_VENV)/bin/ucc-gen package --path $(APP_DIR) --output $(DIST)
	$(PY39) tools/package_report.py $(PACKAGE) --max-bytes $(PACKAGE_BUDGET_BYTES) \
	    --max-lib-bytes $(LIB_BUDGET_BYTES)

.PHONY: demo
demo: $(TEST_VENV_313)/.installed ## build, then run both inputs against the local emulators (stats twice, indicators: a first sync and a delta, then the lookup)
	$(MAKE) build
	$(TEST_VENV_313)/bin/python tools/demo.py --python $(PY313) --app $(APP_DIR)

.PHONY: bench
bench: package ## time a poll of the built input against the import floor; writes docs/benchmarks.md
	$(PY313) tools/bench.py --python39 $(PY39) --python313 $(PY313) \
	    --app $(APP_DIR) --package $(PACKAGE) --runs 20 --out docs/benchmarks.md

.PHONY: appinspect
appinspect: $(APPINSPECT_VENV)/.installed ## vet the package with AppInspect (cloud, private_victoria)
	test -f $(PACKAGE) || $(MAKE) package
	$(APPINSPECT_VENV)/bin/python tools/appinspect_gate.py $(PACKAGE) \
	    --appinspect $(APPINSPECT_VENV)/bin/splunk-appinspect \
	    --reports $(REPORTS)/appinspect --readme README.md

.PHONY: confcheck
confcheck: $(CONFCHECK_VENV)/.installed $(SLIM_VENV)/.installed ## offline checks of the built add-on: SPL structure, .conf files (ksconf, slim)
	test -d $(APP_DIR) || $(MAKE) build
	status=0; \
	$(PY39) tools/spl_check.py $(APP_DIR) || status=1; \
	$(PY39) tools/conf_check.py $(APP_DIR) --ksconf $(CONFCHECK_VENV)/bin/ksconf --slim $(SLIM_VENV)/bin/slim || status=1; \
	exit $$status

.PHONY: lint
lint: $(TEST_VENV_313)/.installed ## ruff
	$(TEST_VENV_313)/bin/ruff check .
	$(TEST_VENV_313)/bin/ruff format --check .

.PHONY: unit
unit: $(TEST_VENV_39)/.installed $(TEST_VENV_313)/.installed studio ## tests on Python 3.9 and 3.13
	test -d $(APP_DIR) || $(MAKE) package
	@# The core runs in-process: its unit tests on both Pythons. The other suites start the
	@# built add-on under both Splunk Pythons themselves (splunk_python), so once is enough.
	$(TEST_VENV_39)/bin/python -m pytest -q tests/unit --junitxml=$(REPORTS)/pytest-py3.9.xml
	$(TEST_VENV_313)/bin/python -m pytest -q --junitxml=$(REPORTS)/pytest-py3.13.xml

# The browser suite's packages (Playwright drives Debian's chromium), in the 3.13 venv only.
$(TEST_VENV_313)/.ui-installed: $(TEST_VENV_313)/.installed requirements/ui.txt
	$(TEST_VENV_313)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/ui.txt
	touch $@

.PHONY: ui
ui: $(TEST_VENV_313)/.ui-installed ## browser suite: the built Configuration and Inputs pages in Chromium (once, Python 3.13)
	test -d $(APP_DIR) || $(MAKE) build
	$(TEST_VENV_313)/bin/python -m pytest -q --ui tests/ui --junitxml=$(REPORTS)/pytest-ui.xml

.PHONY: screenshots
screenshots: $(TEST_VENV_313)/.ui-installed ## build, then regenerate docs/ui-*.png of the Configuration and Inputs pages
	$(MAKE) build
	$(TEST_VENV_313)/bin/python tools/ui_screenshots.py --app $(APP_DIR) --python $(PY313) --out docs

.PHONY: test
test: ## everything CI checks: lint, package, conf and SPL checks, tests on 3.9 and 3.13, browser suite, AppInspect gate
	$(MAKE) lint
	$(MAKE) package
	$(MAKE) confcheck
	$(MAKE) unit
	$(MAKE) ui
	$(MAKE) appinspect

.PHONY: clean
clean: ## remove build output (keeps the venvs)
	rm -rf $(OUTPUT) $(DIST) build

.PHONY: distclean
distclean: clean ## remove build output and the venvs
	rm -rf $(VENV)
