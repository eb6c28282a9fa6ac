#!/usr/bin/env bash
# Installs code-server (real VS Code in a browser) into .vscode-test/code-server for the e2e tests.
# Offline-safe recipe: only the npm registry and Debian packages; no postinstall downloads.
# Idempotent: a stamp file makes repeat runs return at once.
set -euo pipefail

VERSION=4.100.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.vscode-test/code-server"
STAMP="$DEST/.installed-$VERSION"
ENTRY="$DEST/node_modules/code-server/out/node/entry.js"

if [[ -f "$STAMP" && -f "$ENTRY" ]]; then
  exit 0
fi

log() { printf '[install-code-server] %s\n' "$*" >&2; }

# Native modules (kerberos, keytar, native-keymap, argon2) build against these headers; rg replaces the download.
APT_PACKAGES=(ripgrep chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (need root to install): ${missing[*]}"
    exit 1
  fi
fi

RG="$(command -v rg || true)"
[[ -x "$RG" ]] || { log "ripgrep (rg) not found"; exit 1; }

mkdir -p "$DEST"
cd "$DEST"
# Own package.json so npm does not walk up and install into the repository root.
[[ -f package.json ]] || printf '{ "name": "model-lens-code-server", "private": true }\n' >package.json

export npm_config_unsafe_perm=true npm_config_yes=true npm_config_audit=false npm_config_fund=false
export npm_config_update_notifier=false npm_config_loglevel=error

log "npm install code-server@$VERSION"
npm install --no-save --ignore-scripts "code-server@$VERSION"

VSCODE="$DEST/node_modules/code-server/lib/vscode"
cd "$VSCODE"
log "npm install (lib/vscode)"
npm install --omit=dev --ignore-scripts
# @vscode/ripgrep's postinstall would download rg from GitHub; Debian's is equivalent.
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$RG" node_modules/@vscode/ripgrep/bin/rg
log "npm rebuild (lib/vscode native modules)"
npm rebuild
# code-server resolves modules through node_modules.asar like desktop VS Code does.
ln -sfn node_modules node_modules.asar

cd "$VSCODE/extensions"
log "npm install (built-in extensions)"
npm install --omit=dev --ignore-scripts

# argon2 (password hashing; loaded at startup even with --auth none) is hoisted to the top level.
cd "$DEST"
log "npm rebuild argon2"
npm rebuild argon2

node "$ENTRY" --version >/dev/null
touch "$STAMP"
log "installed code-server $VERSION in $DEST"
