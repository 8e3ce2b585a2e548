#!/usr/bin/env bash
# Build the stand-in Anaconda installer that `make demo` and the molecule scenarios use,
# into .artifacts/anaconda-standin/ with its sha256 beside it. The real Anaconda3 installer
# cannot be downloaded on this machine kind (and the roles must never need Anaconda's
# servers on a node): the stand-in honours the installer's command line (-b -p PREFIX -u)
# and relocates the node's own CPython into the prefix. See roles/anaconda/README.md.
# Prints "built" when the installer changed, "reused" otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${DEPLOYER_ARTIFACTS:-$PWD/.artifacts}/anaconda-standin
out=$dir/Anaconda3-standin-Linux-x86_64.sh
mkdir -p "$dir"
tmp=$(mktemp "$dir/.build.XXXXXX")
trap 'rm -f "$tmp"' EXIT
molecule/anaconda/build_test_installer.sh --version standin1 --output "$tmp" >/dev/null
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then
  echo "reused $out"
  exit 0
fi
mv "$tmp" "$out"
sha256sum "$out" | cut -d' ' -f1 >"$out.sha256"
echo "built $out"
