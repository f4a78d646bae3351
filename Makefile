# kbs developer entry points. Newcomers need two: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: all venv testbed tools lint unit test demo demo-down lab lab-down lab-test bench clean

all: test

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# Real Kubernetes binaries from the Go module proxy, a Docker engine, images tagged like upstream.
testbed:
	tests/testbed/testbed.sh

# shellcheck, vagrant (+ libvirt plugin) and pipx from Debian's packages, for the lab and packaging tests.
tools:
	tests/tools.sh

lint: venv
	$(BIN)/ruff check bootstrap pki tests bench hatch_build.py
	$(BIN)/ruff format --check bootstrap pki tests bench hatch_build.py
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

# The whole suite: lint, unit tests, and the real tests on the test bed. pytest's "no tests" (exit 5) fails.
# The 25 slowest steps are listed at the end: the suite's time budget is watched there (docs/testing.md).
test: venv testbed tools lint
	$(BIN)/pytest tests -q --durations=25 $(PYTEST_ARGS)

# A real single-node control plane on this machine with the embedded default configuration (/etc/kubernetes).
KUBECTL = $$(tests/testbed/testbed.sh bin-dir)/kubectl --kubeconfig /etc/kubernetes/admin.conf
demo: venv testbed
	$(BIN)/kbs init
	$(KUBECTL) get nodes -o wide
	$(KUBECTL) wait --for=condition=Ready pod --all -n kube-system --timeout=120s >/dev/null
	$(KUBECTL) get pods -n kube-system
	@echo
	@echo "Control plane up. Try: $(BIN)/kbs status   Tear it down: make demo-down  (= $(BIN)/kbs reset --force)"

demo-down: venv
	$(BIN)/kbs reset --force

# The Vagrant lab on this machine's Docker engine (docs/lab.md): containers from the test bed's node images,
# lab/settings.yaml's shape (1 master, 2 workers; KBS_LAB_* variables override it). Needs the test bed's node images.
lab: tools
	vagrant up --provider=docker
	@lab/show.sh "$$(tests/testbed/testbed.sh bin-dir)/kubectl"
	@echo
	@echo "Lab up. Try: docker exec -it kbs-lab-master-1 bash   Tear it down: make lab-down"

lab-down:
	vagrant destroy -f

# The bigger lab scenario, 3 masters (kbs join --control-plane) and 2 workers, for real (tests/real/test_lab_docker.py).
lab-test: venv tools
	KBS_LAB_TEST_HA=1 $(BIN)/pytest tests/real/test_lab_docker.py -q $(PYTEST_ARGS)

# Benchmarks against their peers (kubeadm, docker run); each prints the Markdown of its docs/performance.md section.
bench: venv testbed
	for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
