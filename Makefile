# Entry points. `make demo` and `make test` do all their own set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
DISTROS ?= ubuntu2204 ubuntu2404 debian12

.PHONY: help venv docker images demo demo-clean test test-matrix lint app-test molecule

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: ## Controller tooling in .venv (pinned in requirements.txt) and collections
	scripts/bootstrap-venv.sh

docker: ## Install and start the Docker Engine if it is not running
	scripts/ensure-docker.sh

images: docker ## Build the systemd test images (DISTROS="ubuntu2204 ...")
	scripts/build-images.sh $(DISTROS)

demo: ## Main job: demo cluster of local containers, provisioned and deployed by site.yml
	scripts/demo.sh up

demo-clean: ## Remove the demo containers, network and state
	scripts/demo.sh clean

test: ## Lint, app tests and the molecule plan (molecule/test-plan.txt); what CI runs
	scripts/run-tests.sh

test-matrix: ## Like test, with every scenario on all three distributions
	scripts/run-tests.sh --matrix

lint: venv ## yamllint, ansible-lint (production profile), ruff
	PATH="$$PWD/.venv/bin:$$PATH" bash -c 'yamllint --strict . && ansible-lint && ruff check . && ruff format --check .'

app-test: venv ## The app's pytest suite against the local MariaDB and Redis (and Chromium), and the roles' tests
	scripts/ensure-chromium.sh && scripts/app-venv.sh && cd app && ../.venv-app/bin/pytest
	.venv/bin/pytest tests -q -p no:cacheprovider

molecule: venv docker ## Only the molecule plan (S="smoke:debian12" for explicit runs)
	scripts/run-molecule.sh $(S)
