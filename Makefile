# maskwatch: 'make demo' runs the main job, 'make test' the tests. Both set up what they need.
PYTHON     ?= python3
VENV       ?= .venv
TFLITE_VENV ?= .venv-tflite
BIN        := $(VENV)/bin
DATA       ?= ../shared/datasets
MODELS_DIR ?= ../shared/models
export MASKWATCH_DATA := $(abspath $(DATA))
# One-thread numbers stay one thread: OpenCV's OpenBLAS would start threads of its own.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup system-deps bundle model train convert evaluate detector detector-report demo \
        test lint format clean install uninstall deploy sd-card bench arm64-smoke soak fleet-test

setup: $(VENV)/.installed $(TFLITE_VENV)/.installed bundle/manifest.json

# The workstation set (TensorFlow for train/ and convert/) plus test tools; a Pi needs
# only the device set for its release (requirements/device-<release>.txt, systemd/releases).
$(VENV)/.installed: $(wildcard requirements/*.txt) pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements/no-deps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# A second device environment with the other runtime, tflite-runtime 2.14 (numpy < 2),
# so the tests can show that the same edge code gives the same labels on both.
$(TFLITE_VENV)/.installed: requirements/device-tflite-runtime.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install --quiet -r requirements/device-tflite-runtime.txt
	$(TFLITE_VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

# What the demo and the tests need from Debian: mosquitto (the real broker, started on a
# loopback port), openssl (the TLS test's certificates), systemd (systemd-analyze checks
# the unit; systemd-sysusers and systemctl --root stage the installer), chromium and
# chromium-driver (the status page's browser test), mtools (make sd-card writes FAT
# images; the tests make them), cloud-init ('cloud-init schema' checks the card's
# user-data) and python3-venv.
SYSTEM_COMMANDS := mosquitto:mosquitto openssl:openssl systemd-analyze:systemd \
                   systemd-sysusers:systemd chromium:chromium chromedriver:chromium-driver \
                   mcopy:mtools cloud-init:cloud-init
system-deps:
	@missing=""; for pair in $(SYSTEM_COMMANDS); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing:$$missing; run 'sudo apt-get install$$missing'" >&2; exit 1; \
	  fi; \
	fi

# The bundle: the committed int8 classifier + the YuNet detector (from MODELS_DIR, else
# upstream; sha256 checked) + manifest.json.
bundle/manifest.json: models/mask_classifier_int8.tflite models/metrics.json \
                      models/face_detection_yunet_masks.onnx | $(VENV)/.installed
	$(BIN)/python -m maskwatch.convert.bundle --models-dir $(MODELS_DIR) --out bundle --tar bundle.tar.gz

bundle: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.convert.bundle --models-dir $(MODELS_DIR) --out bundle --tar bundle.tar.gz

# Retrain and reconvert from the data, rebuild the bundle, and evaluate it on the held-out
# scenes; the reports (PNG, JSON, summary.md) go to reports/.
train: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.train.train --data-root $(DATA) --models-dir $(MODELS_DIR) \
	  --out models --reports reports --threads 2

convert: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.convert.tflite --data-root $(DATA) --models-dir $(MODELS_DIR)

evaluate: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.train.evaluate --data-root $(DATA) --bundle bundle --out reports \
	  --metrics models/metrics.json --int8-report models/mask_classifier_int8.json

# Fine-tune YuNet on masked faces (train/detector_train.py): at most an hour on 2 cores, with
# a progress bar; an interrupted run resumes from build/detector. Writes
# models/face_detection_yunet_masks.onnx + .json (provenance), then the bundle.
detector: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.train.detector_train --data-root $(DATA) --models-dir $(MODELS_DIR) \
	  --threads 2
	$(MAKE) bundle

# Face detectors alone on the fixed test split, at max side 320 and 640: a Markdown table
# and precision-recall plots for masked and unmasked faces, one curve per detector.
# Each NAME=PATH[@SCORE]: the original at its 0.6, the fine-tuned at its own (models/*.json).
DETECTORS  ?= original=$(MODELS_DIR)/face_detection_yunet_2026may.onnx@0.6 \
              fine-tuned=models/face_detection_yunet_masks.onnx
REPORT_OUT ?= reports
detector-report: | $(VENV)/.installed
	$(BIN)/python -m maskwatch.train.detector_report --data-root $(DATA) --out $(REPORT_OUT) \
	  $(foreach d,$(DETECTORS),--detector $(d))

model: train convert
	$(MAKE) bundle evaluate
	$(MAKE) bundle  # again, to record the evaluation figures in the manifest

# On the Pi, as root: the service, its user, /opt/maskwatch (venv + bundle), the config in
# /etc/maskwatch (never overwritten). Safe to run again. DESTDIR=... stages into a tree.
install:
	systemd/install.sh

# Everything but /etc/maskwatch and the event queue; PURGE=1 removes those and the user.
uninstall:
	systemd/install.sh --uninstall

# From the workstation: copy the device part and the bundle to HOST, install there.
deploy: bundle/manifest.json
	@test -n "$(HOST)" || { echo "usage: make deploy HOST=pi@raspberrypi.local" >&2; exit 1; }
	systemd/deploy.sh $(HOST)

# After Raspberry Pi Imager wrote the card (with its OS customisation): the device part,
# the bundle, an offline wheelhouse, CONFIG and PASSWORD_FILE onto its boot partition, and
# a first-boot step that installs and starts maskwatch (systemd/sd-card.sh).
# With DEVICES=devices.csv PUBLIC_KEY=fleet.pub: a fleet's cards, one at a time, each with
# its own device_id and broker password, and the broker's password file and ACL
# (systemd/sd-cards.sh, docs/fleet.md).
sd-card: bundle/manifest.json
	@test -n "$(BOOT)" -a -n "$(CONFIG)" || { echo "usage: make sd-card BOOT=/media/$$USER/bootfs CONFIG=my.toml [PASSWORD_FILE=file] [WEB_PASSWORD_FILE=file] | [DEVICES=devices.csv PUBLIC_KEY=fleet.pub]" >&2; exit 1; }
	if [ -n "$(DEVICES)" ]; then systemd/sd-cards.sh '$(BOOT)'; else systemd/sd-card.sh $(BOOT); fi

# maskwatch against the seeds' pipeline and AIZOO's on the same frames: prints the table and
# writes docs/benchmarks.md (+ .json). One round took about 10 minutes on 2 cores; it now
# runs three, interleaved (--rounds).
bench: system-deps setup
	$(BIN)/python -m scripts.benchmark --data-root $(DATA) --models-dir $(MODELS_DIR) \
		--out docs/benchmarks.md

# The daemon at full speed for MINUTES (default 60) against a local mosquitto: RSS, open
# descriptors and threads every minute, exit 1 if any grew; the table goes to docs/soak.md.
# Not part of 'make test'. On a shared machine: nice -n 19 make soak MINUTES=60.
MINUTES ?= 60
soak: | $(VENV)/.installed
	$(BIN)/python -m scripts.soak --minutes $(MINUTES) --data-root $(DATA) --out docs/soak.md

# 20 daemons on loopback against one real mosquitto with per-device users and ACLs: a
# revoked user, a bundle that cannot start (rolled back), a roll-out canary first; prints
# the roll-out's time, events lost and the broker's CPU and memory (docs/fleet.md). About
# 5 minutes on 2 cores; not part of 'make test'.
fleet-test: bundle/manifest.json
	$(BIN)/python -m scripts.fleet_test --data-root $(DATA) --out docs/fleet_test.json

# Both Raspberry Pi OS releases on arm64 under qemu-user: the installer into a debootstrap
# root, apt's numpy with a simplejpeg built against it, maskwatch detect against x86 (as
# root: apt installs qemu-user-static and debootstrap); its output is recorded in
# docs/arm64.md. Too slow for 'make test'.
arm64-smoke: bundle/manifest.json
	scripts/arm64_smoke.sh

demo: system-deps setup
	$(BIN)/python -m scripts.demo --data-root $(DATA)

lint: | $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: | $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: system-deps setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(TFLITE_VENV) bundle bundle.tar.gz build .pytest_cache .ruff_cache
