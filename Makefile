# `sam build` runs these targets (template.yaml: Metadata BuildMethod: makefile) with
# ARTIFACTS_DIR set; both functions get the same package. ARCH must match the
# template's Architecture parameter: `sam build` (arm64) or `ARCH=x86_64 sam build`.
ARCH ?= arm64
PYTHON ?= python3

build-StreamFunction build-BufferedFunction:
	$(PYTHON) infra/build_package.py --arch $(ARCH) --out "$(ARTIFACTS_DIR)" --zip "build/lambda-$(ARCH).zip"

package:
	$(PYTHON) infra/build_package.py --arch $(ARCH)

.PHONY: build-StreamFunction build-BufferedFunction package
