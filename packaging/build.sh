#!/usr/bin/env bash
# Builds the .deb (cargo-deb) and the .rpm (cargo-generate-rpm):
#   $CARGO_TARGET_DIR/debian/tunekeeper_<version>-1_amd64.deb (arm64)
#   $CARGO_TARGET_DIR/generate-rpm/tunekeeper-<version>-1.x86_64.rpm (aarch64)
# ($CARGO_TARGET_DIR defaults to the clone's target/.)
#
# The packaged binary is linked against glibc 2.17 (RHEL/CentOS 7 and every
# newer distribution) with cargo-zigbuild and Zig, so one package installs on
# the old fleets too; packaging/check.sh proves the baseline with objdump.
# The package metadata lives in Cargo.toml ([package.metadata.deb],
# [package.metadata.generate-rpm]). Installs the cargo tools when missing
# (cargo install --locked; slow, once) and Zig from PyPI (`ziglang`) into a
# virtual environment. Prints the two package paths last.
#
# Environment:
#   CARGO_TARGET_DIR      where to build (default: the clone's target/)
#   TUNEKEEPER_GLIBC      the glibc baseline (default 2.17)
#   TUNEKEEPER_ARCH       x86_64 (default) or aarch64 (needs the Rust
#                         standard library for aarch64: `rustup target add
#                         aarch64-unknown-linux-gnu`; the man page and
#                         completions come from the x86_64 build, run first)
#   TUNEKEEPER_ZIG_VENV   the virtual environment holding Zig
#                         (default ~/.cache/tunekeeper/zig-venv)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir"
glibc="${TUNEKEEPER_GLIBC:-2.17}"
arch="${TUNEKEEPER_ARCH:-x86_64}"
case "$arch" in
    x86_64) deb_arch=amd64 ;;
    aarch64) deb_arch=arm64 ;;
    *)
        echo "build.sh: TUNEKEEPER_ARCH must be x86_64 or aarch64, not '$arch'" >&2
        exit 2
        ;;
esac
triple="$arch-unknown-linux-gnu"
# Pinned: cargo-zigbuild drives `zig cc`, whose options change between Zig
# releases; this pair is the one check.sh has proven.
zig_version=0.17.1
zigbuild_version=0.24.1

log() { printf '== build.sh: %s\n' "$*" >&2; }

# The cargo tools, each installed once.
missing=()
cargo deb --version >/dev/null 2>&1 || missing+=(cargo-deb)
cargo generate-rpm --version >/dev/null 2>&1 || missing+=(cargo-generate-rpm)
cargo-zigbuild --version 2>/dev/null | grep -qx "cargo-zigbuild $zigbuild_version" || missing+=("cargo-zigbuild@$zigbuild_version")
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (cargo install --locked; slow, once)"
    cargo install --locked "${missing[@]}"
fi

# Zig from PyPI in its own virtual environment (Debian's Python refuses a
# system-wide pip install). cargo-zigbuild runs `python3 -m ziglang` when no
# `zig` is on PATH, so the venv's python3 goes first on PATH.
venv="${TUNEKEEPER_ZIG_VENV:-$HOME/.cache/tunekeeper/zig-venv}"
if ! "$venv/bin/python3" -m ziglang version 2>/dev/null | grep -qx "$zig_version"; then
    log "installing Zig $zig_version (PyPI ziglang) into $venv"
    # The system Python: a pyenv shim may point at a Python without venv.
    py=/usr/bin/python3
    [ -x "$py" ] || py="$(command -v python3)"
    "$py" -m venv "$venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "ziglang==$zig_version"
fi
export PATH="$venv/bin:$PATH"
unset CARGO_ZIGBUILD_ZIG_PATH ZIG_COMMAND

if ! rustc --print sysroot >/dev/null ||
    [ ! -d "$(rustc --print sysroot)/lib/rustlib/$triple/lib" ]; then
    log "no Rust standard library for $triple: rustup target add $triple"
    rustup target add "$triple"
fi

log "cargo zigbuild --release --target $triple.$glibc (zig $("$venv/bin/python3" -m ziglang version))"
cargo zigbuild --release --locked --bin tunekeeper --target "$triple.$glibc"

# cargo-deb and cargo-generate-rpm read `target/release/X` in Cargo.toml as
# "X in the build's output directory": with --target that is
# $CARGO_TARGET_DIR/<triple>/release. The staged files live under it.
out="$target_dir/$triple/release"
bin="$out/tunekeeper"
stage="$out/packaging"
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"

# The man page and completions do not depend on the architecture; another
# architecture's binary cannot run here, so they come from this machine's.
gen="$bin"
if [ "$arch" != "$(uname -m)" ]; then
    gen="$target_dir/$(uname -m)-unknown-linux-gnu/release/tunekeeper"
    [ -x "$gen" ] || {
        echo "build.sh: build the $(uname -m) packages first (the man page comes from that binary)" >&2
        exit 1
    }
fi
log "man page and completions from $gen"
"$gen" generate man "$stage/man" >/dev/null
gzip -9 -n -f "$stage/man/tunekeeper.1"
"$gen" generate completions "$stage/completions" >/dev/null

# Debian wants a changelog; this one is generated so it always names the
# crate's version (date: the last commit's, for reproducible builds).
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
when="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
cat >"$stage/changelog" <<CHANGELOG
tunekeeper ($version-1) unstable; urgency=medium

  * Release $version, built from $(git describe --always --dirty 2>/dev/null || echo "a source tree").
    See the project's git history for the changes.

 -- tunekeeper developers <tunekeeper@example.org>  $(date -u -R -d "@$when")
CHANGELOG
gzip -9 -n -c "$stage/changelog" >"$stage/changelog.Debian.gz"

# One stripped binary for both packages (same bytes in the .deb and .rpm).
# The host's binutils know only x86: aarch64 needs Debian's
# binutils-aarch64-linux-gnu (installed here when missing and root).
strip_tool="strip"
if [ "$arch" = aarch64 ] && [ "$(uname -m)" != aarch64 ]; then
    strip_tool=aarch64-linux-gnu-strip
    if ! command -v "$strip_tool" >/dev/null && [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils-aarch64-linux-gnu >&2
    fi
fi
cp "$bin" "$stage/tunekeeper"
"$strip_tool" --strip-unneeded "$stage/tunekeeper"

log "cargo deb"
mkdir -p "$target_dir/debian" "$target_dir/generate-rpm"
rm -f "$target_dir"/debian/tunekeeper_*_"$deb_arch".deb
cargo deb --no-build --target "$triple" --output "$target_dir/debian/" >&2
log "cargo generate-rpm"
rm -f "$target_dir"/generate-rpm/tunekeeper-*."$arch".rpm
# xz, not the default zstd: RHEL/CentOS 7's rpm 4.11 cannot read zstd payloads.
cargo generate-rpm --target "$triple" --payload-compress xz --output "$target_dir/generate-rpm/" >&2

ls "$target_dir"/debian/tunekeeper_*_"$deb_arch".deb "$target_dir"/generate-rpm/tunekeeper-*."$arch".rpm
