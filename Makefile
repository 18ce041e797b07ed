# Two commands matter: `make demo` and `make test`. Each sets up .venv first if needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-slow bench real-demo clean check-java

setup: $(STAMP)

# chainer 7.8.1 ships only an sdist whose setup.py imports pkg_resources (setuptools<70)
# and runs only with numpy<2, so it is built without build isolation against the
# setuptools pinned here; everything else is pinned in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@command -v java >/dev/null 2>&1 || echo "warning: 'java' not found: real Spark runs need Java 17 (apt-get install openjdk-17-jre-headless)" >&2
	@# Headless Chromium for the History Server's browser test (Debian's package); without it that test skips.
	@command -v chromium >/dev/null 2>&1 || (apt-get install -y -qq chromium >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1) || \
		echo "warning: could not install chromium (apt-get install -y chromium): the History Server browser test will skip" >&2
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<25" "setuptools<70" wheel
	$(BIN)/python -m pip install -q -c constraints.txt "numpy<2"
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation "chainer==7.8.1"
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation -e ".[real,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sparkdelay demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# A small real sweep, then the model checked against it (needs Java 17; about 5-10 min on 2 cores):
# start a 2-worker local Spark Standalone cluster on its own ports and state dir (so it does not
# touch another cluster), run nodes 2 x partitions 4,9 x waits 0s,3s (1 rep, the bundled sweep's
# job and work per item, so the bundled calibration applies) into runs/real-demo/, stop the cluster
# (also when the sweep fails), then `sparkdelay validate` simulates each new run as its own event
# log describes it and compares duration and tasks per host. The model is data/model.json, or,
# when that is absent, a fresh `sparkdelay calibrate` of the bundled shared-machine runs.
REAL_DEMO_OUT := runs/real-demo
BUNDLED_MODEL := data/model.json
BUNDLED_SWEEP := data/runs/shared
WORKLOAD := data/study-workload.yaml

real-demo: $(STAMP)
	$(BIN)/sparkdelay cluster start --workers 2 --master-port 7177 --worker-port 7178 --webui-port 0 \
		--state-dir .sparkdelay/real-demo-cluster
	status=0; \
	$(BIN)/sparkdelay run --master spark://127.0.0.1:7177 --state-dir .sparkdelay/real-demo-cluster \
		--nodes 2 --partitions 4,9 --wait 0s,3s --reps 1 --out $(REAL_DEMO_OUT) \
		--no-progress || status=$$?; \
	$(BIN)/sparkdelay cluster stop --state-dir .sparkdelay/real-demo-cluster; \
	exit $$status
	model=$(BUNDLED_MODEL); \
	if [ ! -f $$model ]; then \
		model=$(REAL_DEMO_OUT)/model.json; \
		echo "real-demo: $(BUNDLED_MODEL) not found: fitting $$model to the bundled runs in $(BUNDLED_SWEEP)"; \
		$(BIN)/sparkdelay calibrate $(BUNDLED_SWEEP)/index.jsonl --cluster $(BUNDLED_SWEEP)/cluster.yaml \
			--workload $(WORKLOAD) --method linear -o $$model || exit $$?; \
	fi; \
	$(BIN)/sparkdelay validate $(REAL_DEMO_OUT)/index.jsonl --model $$model --workload $(WORKLOAD)
	@echo "real-demo: runs in $(REAL_DEMO_OUT)/; for figures: sparkdelay report --runs $(REAL_DEMO_OUT) --out $(REAL_DEMO_OUT)/report"

bench: $(STAMP)
	$(BIN)/python -m sparkdelay.app.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
