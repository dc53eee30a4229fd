#!/usr/bin/env bash
# Builds benches/peers/target/uws-echo from echo.cpp and the uWebSockets and
# uSockets sources. No uWS code lives in this repository: the sources come
# from the crates.io package libuwebsockets-sys 0.0.10, which ships them under
# uWebSockets/ (src/, uSockets/src/, capi/). `cargo fetch` of a throwaway
# manifest puts that package in cargo's registry cache (a no-op when it is
# already there), and `cargo metadata` says where.
#
# Needs: cargo, cc (C11) and c++ (C++20), e.g. Debian's gcc/g++ 12.
# Env: CC, CXX (default gcc, g++), UWS_SRC (use this uWebSockets/ directory
#      instead of fetching).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$(dirname "$here")"
out="$peers/target/uws-build"
bin="$peers/target/uws-echo"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"

if [[ -z "${UWS_SRC:-}" ]]; then
    manifest_dir="$(mktemp -d)"
    trap 'rm -rf "$manifest_dir"' EXIT
    mkdir -p "$manifest_dir/src"
    cat >"$manifest_dir/Cargo.toml" <<'TOML'
[package]
name = "uws-sources"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
libuwebsockets-sys = "=0.0.10"
TOML
    : >"$manifest_dir/src/lib.rs"
    cargo fetch --quiet --manifest-path "$manifest_dir/Cargo.toml"
    pkg_manifest="$(cargo metadata --format-version 1 --manifest-path "$manifest_dir/Cargo.toml" |
        python3 -c 'import json, sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"] == "libuwebsockets-sys"))')"
    UWS_SRC="$(dirname "$pkg_manifest")/uWebSockets"
fi

if [[ ! -f "$UWS_SRC/src/App.h" || ! -f "$UWS_SRC/uSockets/src/libusockets.h" ]]; then
    echo "uws build: no uWebSockets sources at $UWS_SRC" >&2
    exit 1
fi
echo "uws build: sources from $UWS_SRC" >&2

rm -rf "$out"
mkdir -p "$out"
# uSockets: plain TCP (no TLS), epoll event loop; the same flags as its own
# Makefile's default (-O3 -flto, C11).
(
    cd "$out"
    "$CC" -std=c11 -O3 -flto=auto -DLIBUS_NO_SSL -I"$UWS_SRC/uSockets/src" -c \
        "$UWS_SRC"/uSockets/src/*.c "$UWS_SRC"/uSockets/src/eventing/*.c
)
# uWebSockets is header-only; permessage-deflate is off, so no zlib.
"$CXX" -std=c++20 -O3 -flto=auto -DLIBUS_NO_SSL -DUWS_NO_ZLIB \
    -I"$UWS_SRC/src" -I"$UWS_SRC/uSockets/src" \
    "$here/echo.cpp" "$out"/*.o -o "$bin"
echo "uws build: $bin" >&2
