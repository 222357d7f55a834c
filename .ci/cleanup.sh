#!/usr/bin/env bash
# make clean: remove what builds and checks leave behind (the seed pipeline's "cleanup of temporary
# resources"): saved Terraform plans and working directories, scan reports, caches, and, where a Docker
# engine is reachable, dangling images and the build cache older than a day. Keeps .venv and .venv-security.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rm -rf build/terraform reports/security .pytest_cache .ruff_cache
find . -path ./.venv -prune -o -path ./.venv-security -prune -o -name __pycache__ -type d -print0 \
    | xargs -0 -r rm -rf
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    docker image prune --force --filter "label=org.opencontainers.image.source=realeyez" >/dev/null
    docker builder prune --force --filter "until=24h" >/dev/null
fi
echo "clean: done"
