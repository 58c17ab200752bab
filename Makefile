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

bench:
	$(PYTHON) bench/bench.py && $(PYTHON) bench/coldstart.py

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

.PHONY: test lint typecheck bench lock package build-StreamFunction build-BufferedFunction
