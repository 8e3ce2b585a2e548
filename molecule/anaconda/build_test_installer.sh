#!/usr/bin/env bash
# Build a stand-in for the Anaconda3 installer, for tests only.
#
#   build_test_installer.sh --version VERSION --output FILE
#
# The real installer (hundreds of MB, fetched from Anaconda's servers) cannot be used in
# tests: the test hosts must not download it. This script writes a self-extracting shell
# installer that honours the same command-line contract as the real one, so the anaconda
# role runs unchanged against it:
#
#   -b           batch mode (required here: the interactive licence prompt is not emulated)
#   -p PREFIX    install prefix (default: $HOME/anaconda3)
#   -u           update an existing installation (without it an existing PREFIX is an error,
#                with the real installer's message)
#   -f           no error if PREFIX exists
#   -h           help
#
# At install time, on the node, it relocates the node's own CPython into PREFIX (the
# interpreter and its standard library: the copy works, with sys.prefix == PREFIX; see
# docs/testing.md), then unpacks its payload: a `conda` stub that only
# answers `conda --version` with VERSION, and conda-meta/history, to which every run
# appends one line (so tests can count installer runs). The node's Python version differs
# per distribution, so the interpreter is found on the node, not here.
#
# The output is byte-for-byte reproducible for a given VERSION (fixed mtimes, owners and
# gzip header), so its sha256 is stable across rebuilds.
set -euo pipefail

usage() {
  echo "usage: $0 --version VERSION --output FILE" >&2
  exit 2
}

version=""
output=""
while [ $# -gt 0 ]; do
  case $1 in
    --version) version=${2:-}; shift 2 ;;
    --output) output=${2:-}; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$version" ] && [ -n "$output" ] || usage
case $version in
  *[!A-Za-z0-9._-]*) echo "VERSION may hold only letters, digits, '.', '_' and '-'" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/payload/bin" "$work/payload/conda-meta"

cat >"$work/payload/bin/conda" <<EOF
#!/bin/sh
# Test stand-in for conda: it only reports the installer version it came with.
case "\${1:-}" in
  --version|-V) echo "conda $version" ;;
  *) echo "conda (test stand-in from build_test_installer.sh): only --version works" >&2; exit 2 ;;
esac
EOF
chmod 0755 "$work/payload/bin/conda"
: >"$work/payload/conda-meta/.keep"
cat >"$work/payload/LICENSE.txt" <<EOF
Test stand-in for the Anaconda3 installer, version $version, built by
molecule/anaconda/build_test_installer.sh. It holds no Anaconda software.
EOF

# The header is a quoted heredoc (nothing expands here); @VERSION@ is filled in below.
cat >"$work/header.sh" <<'EOF'
#!/bin/bash
# Test stand-in for an Anaconda3 installer (molecule/anaconda/build_test_installer.sh).
set -eu
INSTALLER_VERSION="@VERSION@"
PREFIX="${HOME:-/root}/anaconda3"
BATCH=0
FORCE=0
UPDATE=0

USAGE="usage: $0 [options]

Installs the test stand-in for Anaconda3 ${INSTALLER_VERSION}

-b           run install in batch mode (without manual intervention)
-f           no error if install prefix already exists
-h           print this help message and exit
-p PREFIX    install prefix, defaults to ${PREFIX}
-u           update an existing installation
"

while getopts "bfhp:u" opt; do
  case "$opt" in
    b) BATCH=1 ;;
    f) FORCE=1 ;;
    h) echo "$USAGE"; exit 2 ;;
    p) PREFIX="$OPTARG" ;;
    u) FORCE=1; UPDATE=1 ;;
    *) echo "$USAGE" >&2; exit 2 ;;
  esac
done

if [ "$BATCH" = 0 ]; then
  echo "ERROR: this test installer has no interactive mode; run it with -b" >&2
  exit 2
fi
if [ -e "$PREFIX" ] && [ "$FORCE" = 0 ]; then
  printf "ERROR: File or directory already exists: '%s'\n" "$PREFIX" >&2
  printf "If you want to update an existing installation, use the -u option.\n" >&2
  exit 1
fi

# The node's own interpreter: /usr/bin/python3 points at /usr/bin/python3.X.
PYTHON=$(readlink -f /usr/bin/python3)
PYVER=${PYTHON##*/}
case "$PYVER" in
  python3.[0-9]*) ;;
  *) echo "ERROR: /usr/bin/python3 resolves to $PYTHON, not a python3.X binary" >&2; exit 1 ;;
esac
if [ ! -d "/usr/lib/$PYVER" ]; then
  echo "ERROR: no standard library at /usr/lib/$PYVER" >&2
  exit 1
fi

echo "PREFIX=$PREFIX"
echo "Relocating $PYTHON and /usr/lib/$PYVER (test stand-in for the Anaconda payload)"
mkdir -p "$PREFIX/bin" "$PREFIX/lib"
rm -rf "${PREFIX:?}/lib/$PYVER.new"
cp -a "/usr/lib/$PYVER" "$PREFIX/lib/$PYVER.new"
rm -rf "${PREFIX:?}/lib/$PYVER"
mv "$PREFIX/lib/$PYVER.new" "$PREFIX/lib/$PYVER"
mkdir -p "$PREFIX/lib/$PYVER/site-packages"
cp "$PYTHON" "$PREFIX/bin/$PYVER.new"
mv -f "$PREFIX/bin/$PYVER.new" "$PREFIX/bin/$PYVER"
ln -sfn "$PYVER" "$PREFIX/bin/python3"
ln -sfn "$PYVER" "$PREFIX/bin/python"

payload_line=$(awk '/^__TEST_INSTALLER_PAYLOAD__$/ { print NR + 1; exit }' "$0")
tail -n "+$payload_line" "$0" | tar -xzf - -m --no-same-owner -C "$PREFIX"

if [ "$UPDATE" = 1 ]; then mode=update; else mode=install; fi
printf '==> %s %s %s <==\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$mode" "$INSTALLER_VERSION" \
  >>"$PREFIX/conda-meta/history"
echo "installation finished."
exit 0
__TEST_INSTALLER_PAYLOAD__
EOF
sed -i "s/@VERSION@/$version/" "$work/header.sh"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/payload" \
  -cf - LICENSE.txt bin conda-meta \
  | gzip -n -9 >"$work/payload.tar.gz"

mkdir -p "$(dirname "$output")"
cat "$work/header.sh" "$work/payload.tar.gz" >"$output.tmp"
chmod 0644 "$output.tmp"
mv -f "$output.tmp" "$output"
sha256sum "$output" | cut -d' ' -f1
