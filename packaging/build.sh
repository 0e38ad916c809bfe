#!/usr/bin/env bash
# Builds the .deb (cargo-deb) and the .rpm (cargo-generate-rpm) into target/:
#   target/debian/tunekeeper_<version>-1_<arch>.deb
#   target/generate-rpm/tunekeeper-<version>-1.<arch>.rpm
# The package metadata lives in Cargo.toml ([package.metadata.deb],
# [package.metadata.generate-rpm]). Installs the two cargo tools when missing
# (once: ~12 minutes on a 2-core machine). Prints the two package paths last.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Both tools resolve `target/...` asset paths against the crate's own target/.
export CARGO_TARGET_DIR="$repo/target"

log() { printf '== build.sh: %s\n' "$*" >&2; }

missing=()
cargo deb --version >/dev/null 2>&1 || missing+=(cargo-deb)
cargo generate-rpm --version >/dev/null 2>&1 || missing+=(cargo-generate-rpm)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (cargo install --locked; slow, once)"
    cargo install --locked "${missing[@]}"
fi

log "cargo build --release --locked"
cargo build --release --locked --bin tunekeeper

bin="$repo/target/release/tunekeeper"
stage="$repo/target/packaging"
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"

log "man page and completions from the built binary"
"$bin" generate man "$stage/man" >/dev/null
gzip -9 -n -f "$stage/man/tunekeeper.1"
"$bin" generate completions "$stage/completions" >/dev/null

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

# cargo-deb strips the binary itself; cargo-generate-rpm packs it as is.
cp "$bin" "$stage/tunekeeper"
strip --strip-unneeded "$stage/tunekeeper"

log "cargo deb"
rm -f "$repo"/target/debian/tunekeeper_*.deb
cargo deb --no-build --strip >&2
log "cargo generate-rpm"
rm -f "$repo"/target/generate-rpm/tunekeeper-*.rpm
cargo generate-rpm >&2

ls "$repo"/target/debian/tunekeeper_*.deb "$repo"/target/generate-rpm/tunekeeper-*.rpm
