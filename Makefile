# Everyday targets (the README's test command runs lint, typecheck and test in a row).
# `sam build` runs the build-* targets (template.yaml: Metadata BuildMethod: makefile)
# with ARTIFACTS_DIR set; both functions get the same package. ARCH must match the
# template's Architecture parameter: `sam build` (arm64) or `ARCH=x86_64 sam build`.
ARCH ?= arm64
PYTHON ?= python3

test:
	$(PYTHON) infra/build_package.py --fetch-wheels build/wheels && $(PYTHON) -m pytest -q

lint:
	ruff check . && ruff format --check . && lint-imports

typecheck:
	mypy

# The field's table: this proxy beside gemini-balance-lite under Node and LiteLLM's proxy
# (bench/peers.py finds or fetches them; docs/speed.md). bench-ab: against another
# checkout (BASELINE=../before, e.g. a worktree of the previous release) and the cold start.
bench:
	$(PYTHON) bench/field.py

bench-ab:
	$(PYTHON) bench/bench.py $(if $(BASELINE),--baseline $(BASELINE)) && $(PYTHON) bench/coldstart.py

# The peers the bench compares with, in build/ (never committed): a clone of
# gemini-balance-lite and a venv with LiteLLM's proxy.
bench-peers:
	test -d build/peers/gemini-balance-lite || git clone --depth 1 https://github.com/tech-shrimp/gemini-balance-lite build/peers/gemini-balance-lite
	test -x build/bench-litellm/bin/litellm || { $(PYTHON) -m venv build/bench-litellm && \
	  build/bench-litellm/bin/pip install -q $$($(PYTHON) -c 'import sys; sys.path.insert(0, "bench"); import peers; print(peers.LITELLM_PACKAGES)'); }

# Regenerate the runtime lock (requirements.txt) from requirements.in in a clean venv.
lock:
	rm -rf build/lockenv && $(PYTHON) -m venv build/lockenv && build/lockenv/bin/pip install -q -r requirements.in
	{ echo "# The lock: every runtime package, pinned. Generated from requirements.in (make lock);"; \
	  echo "# the Lambda package, the Dockerfile and the README's commands install exactly these."; \
	  build/lockenv/bin/pip freeze | sed 's/^uvloop==\(.*\)/uvloop==\1; sys_platform != "win32"/'; } > requirements.txt

build-StreamFunction build-BufferedFunction:
	$(PYTHON) infra/build_package.py --arch $(ARCH) --out "$(ARTIFACTS_DIR)" --zip "build/lambda-$(ARCH).zip"

package:
	$(PYTHON) infra/build_package.py --arch $(ARCH)

.PHONY: test lint typecheck bench bench-ab bench-peers lock package build-StreamFunction build-BufferedFunction
