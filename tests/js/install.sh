#!/usr/bin/env bash
# Installs ioredis and its dependencies into tests/js/node_modules from the tarballs in
# tests/js/vendor, without the npm registry (which the project's machines cannot reach).
# package.json and package-lock.json name the tarballs (`file:vendor/...`) with their hashes.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --offline --no-audit --no-fund --loglevel=error
