#!/usr/bin/env bash
# Bundle the harness page: src/harness.jsx -> dist/harness.js (+ harness.css). ~3 s.
set -euo pipefail
cd "$(dirname "$0")"
node_modules/.bin/esbuild src/harness.jsx --bundle --outfile=dist/harness.js \
  --loader:.js=jsx --define:process.env.NODE_ENV='"production"' --define:global=window \
  --minify --log-level=warning
