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

bench: $(STAMP)
	$(BIN)/python -m sparkdelay.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
