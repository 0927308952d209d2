#!/usr/bin/env bash
# Installs what firepoint needs on a fresh Debian 12 / Ubuntu machine, idempotently:
#   - Debian packages: libgdal-dev, libsqlite3-dev (the one SQLite that GDAL and the store share),
#     gdal-bin, pkg-config, build-essential, python3-pip, libxml2-utils (xmllint, for tests/teams/cap.rs),
#     fonts-wqy-microhei (Chinese text in the report's PNG map), chromium (the page's browser test),
#     postgresql (the server binaries for the throwaway cluster of the shared-store tests,
#     scripts/pg.sh; no system cluster is created), systemd (systemd-analyze, which verifies the
#     deploy/ units; installing it starts nothing), curl (the soak test's client, scripts/soak.sh),
#     nodejs and npm when no Node.js is installed
#   - the township page's JavaScript from the npm registry (web/package-lock.json: leaflet, and
#     playwright-core for the browser test) into web/node_modules; the build embeds leaflet
#   - ONNX Runtime's shared library, taken from the PyPI wheel `onnxruntime`
#     (Debian has no package; ort's own download cannot work offline) into .deps/onnxruntime/
#   - the OASIS CAP 1.2 schema into .deps/cap/ (scripts/cap_xsd.sh)
#   - a Rust toolchain, when cargo is missing (rustup from the distribution's package)
# A second run does nothing but check. Run from anywhere; paths are relative to the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION="${ORT_VERSION:-1.31.1}"
ORT_DIR=".deps/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
node_pkgs=()
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || node_pkgs=(nodejs npm)
for p in libgdal-dev libsqlite3-dev gdal-bin pkg-config build-essential python3-pip unzip libxml2-utils \
         fonts-wqy-microhei chromium postgresql systemd curl "${node_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# the tests start their own throwaway cluster (scripts/pg.sh): the package must not create and
# start a system one on port 5432
if printf '%s\n' "${need_pkgs[@]}" | grep -qx postgresql && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no cargo found; installing rustup from Debian and a stable toolchain" >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rustup >/dev/null
  rustup default stable
fi

need_rust="1.92"
have_rust="$(cargo --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
  if command -v rustup >/dev/null 2>&1; then
    echo "setup: cargo $have_rust is older than $need_rust; updating the stable toolchain" >&2
    rustup update stable && rustup default stable
  else
    echo "setup: cargo $have_rust is older than $need_rust (ort's rust-version) and rustup is absent; install a newer Rust" >&2
    exit 1
  fi
fi

if [ ! -f "$ORT_LIB" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION from the PyPI wheel" >&2
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$ORT_DIR"
  unzip -q -j -o "$tmp"/onnxruntime-*.whl 'onnxruntime/capi/libonnxruntime.so*' -d "$ORT_DIR"
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
bash scripts/cap_xsd.sh
# the page's JavaScript, exactly as locked (npm ci checks the lock's hashes)
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "setup: installing the page's JavaScript from the npm registry (web/package-lock.json)" >&2
  npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "setup: ok (GDAL $(gdal-config --version), ONNX Runtime $ORT_VERSION in $ORT_DIR)" >&2
