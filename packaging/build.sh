#!/usr/bin/env bash
# Builds the .deb (dpkg-deb) and the .rpm (rpmbuild) from one release build:
#   $CARGO_TARGET_DIR/packages/tunekeeper_<version>-1_amd64.deb   (arm64)
#   $CARGO_TARGET_DIR/packages/tunekeeper-<version>-1.x86_64.rpm  (aarch64)
# ($CARGO_TARGET_DIR defaults to the clone's target/.) Prints the two
# package paths last.
#
# The packaged binary is linked against glibc 2.17 (RHEL/CentOS 7 and every
# newer distribution) with cargo-zigbuild and Zig, so one package installs on
# the old fleets too; packaging/check.sh proves the baseline with objdump.
# Nothing here is compiled but the project: dpkg-deb (dpkg), rpmbuild (rpm)
# and python3-venv come from Debian (installed when missing and root); Zig
# (`ziglang`) and cargo-zigbuild come from PyPI as prebuilt wheels, into a
# virtual environment.
#
# What goes where: packaging/contents (one list for both packages). The
# .deb's control data: this script and packaging/debian/ (maintainer
# scripts, lintian's overrides); the .rpm's: packaging/rpm/tunekeeper.spec. Name, version,
# summary, licence and homepage: Cargo.toml's [package]; the long
# description: packaging/description.
#
# usage: build.sh                      build the binary, then both packages
#        build.sh --rpm-release N DIR  only the .rpm again, from the binary
#                                      and files the last build staged, with
#                                      release N, into DIR (check.sh's
#                                      upgrade test: same files, release+1)
#
# Environment:
#   CARGO_TARGET_DIR      where to build (default: the clone's target/)
#   TUNEKEEPER_GLIBC      the glibc baseline (default 2.17)
#   TUNEKEEPER_ARCH       x86_64 (default) or aarch64 (needs the Rust
#                         standard library for aarch64: `rustup target add
#                         aarch64-unknown-linux-gnu`; the man pages and
#                         completions come from the x86_64 build, run first)
#   TUNEKEEPER_ZIG_VENV   the virtual environment holding Zig and
#                         cargo-zigbuild (default ~/.cache/tunekeeper/zig-venv)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

rpm_only=false
rpm_release=1
if [ "${1:-}" = --rpm-release ]; then
    [ "$#" -eq 3 ] || {
        echo "usage: $0 [--rpm-release N DIR]" >&2
        exit 2
    }
    rpm_only=true
    rpm_release=$2
    rpm_out=$3
    case "$rpm_release" in '' | *[!0-9]*)
        echo "build.sh: --rpm-release wants a number, not '$rpm_release'" >&2
        exit 2
        ;;
    esac
elif [ "$#" -gt 0 ]; then
    echo "usage: $0 [--rpm-release N DIR]" >&2
    exit 2
fi

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
# releases; this pair is the one check.sh has proven. Both are PyPI wheels.
zig_version=0.17.1
zigbuild_version=0.24.1

log() { printf '== build.sh: %s\n' "$*" >&2; }

# Debian's tools, when missing.
need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v strip >/dev/null || need+=(binutils)
/usr/bin/python3 -c 'import venv, ensurepip, tomllib' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        log "installing ${need[*]} (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
    else
        echo "build.sh: missing ${need[*]} (apt-get install them)" >&2
        exit 1
    fi
fi

# The package's identity, from Cargo.toml's [package] (one source).
manifest() {
    /usr/bin/python3 -c '
import sys, tomllib
p = tomllib.load(open("Cargo.toml", "rb"))["package"]
v = p.get(sys.argv[1])
if not isinstance(v, str) or not v or "\n" in v:
    sys.exit("build.sh: Cargo.toml [package] needs a one-line " + sys.argv[1])
print(v)' "$1"
}
name="$(manifest name)"
version="$(manifest version)"
summary="$(manifest description)"
license="$(manifest license)"
homepage="$(manifest homepage)"
maintainer="tunekeeper developers <tunekeeper@example.org>"
vendor="tunekeeper developers"
copyright_holder="2026 tunekeeper developers"
# The .deb's dependencies. Not computed by dpkg-shlibdeps: Debian 12's libc6
# symbols file raises sysconf@GLIBC_2.2.5 to 2.34 (for binaries built with
# its headers) and so would demand libc6 (>= 2.34) of a binary built against
# glibc 2.17. The binary needs libc, libm, libpthread and libdl (all libc6)
# at the baseline; packaging/check.sh checks this against objdump. The .rpm's
# come from rpmbuild's ELF scan (libc.so.6(GLIBC_2.17)(64bit) ...).
deb_depends="libc6 (>= $glibc), systemd | systemd-standalone-sysusers"

out="$target_dir/$triple/release"
bin="$out/tunekeeper"
stage="$out/packaging"
packages="$target_dir/packages"

if ! $rpm_only; then
    # Zig and cargo-zigbuild from PyPI in their own virtual environment
    # (Debian's Python refuses a system-wide pip install). cargo-zigbuild runs
    # `python3 -m ziglang` when no `zig` is on PATH, so the venv goes first.
    venv="${TUNEKEEPER_ZIG_VENV:-$HOME/.cache/tunekeeper/zig-venv}"
    if ! "$venv/bin/python3" -m ziglang version 2>/dev/null | grep -qx "$zig_version" ||
        ! "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -qx "cargo-zigbuild $zigbuild_version"; then
        log "installing Zig $zig_version and cargo-zigbuild $zigbuild_version (PyPI wheels) into $venv"
        # The system Python: a pyenv shim may point at a Python without venv.
        /usr/bin/python3 -m venv "$venv"
        "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
            "ziglang==$zig_version" "cargo-zigbuild==$zigbuild_version"
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

    rm -rf "$stage"
    mkdir -p "$stage/man" "$stage/completions"
    # The man pages and completions do not depend on the architecture; another
    # architecture's binary cannot run here, so they come from this machine's.
    gen="$bin"
    if [ "$arch" != "$(uname -m)" ]; then
        gen="$target_dir/$(uname -m)-unknown-linux-gnu/release/tunekeeper"
        [ -x "$gen" ] || {
            echo "build.sh: build the $(uname -m) packages first (the man pages come from that binary)" >&2
            exit 1
        }
    fi
    log "man pages and completions from $gen"
    "$gen" generate man "$stage/man" >/dev/null
    gzip -9 -n -f "$stage"/man/*.1
    "$gen" generate completions "$stage/completions" >/dev/null

    # Debian wants a changelog; this one is generated so it always names the
    # crate's version (date: the last commit's, for reproducible builds).
    when="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
    cat >"$stage/changelog" <<CHANGELOG
$name ($version-1) unstable; urgency=medium

  * Release $version, built from $(git describe --always --dirty 2>/dev/null || echo "a source tree").
    See the project's git history for the changes.

 -- $maintainer  $(date -u -R -d "@$when")
CHANGELOG
    gzip -9 -n -c "$stage/changelog" >"$stage/changelog.Debian.gz"
    rm "$stage/changelog"
    # Debian policy's machine-readable copyright file.
    cat >"$stage/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Source: $homepage

Files: *
Copyright: $copyright_holder
License: $license
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
    echo "$when" >"$stage/source-date-epoch"

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
fi
[ -x "$stage/tunekeeper" ] || {
    echo "build.sh: nothing staged in $stage: run build.sh without options first" >&2
    exit 1
}
SOURCE_DATE_EPOCH="$(cat "$stage/source-date-epoch")"
export SOURCE_DATE_EPOCH

# Lays out packaging/contents for one package (deb or rpm) under ROOT, and
# writes the list of what it installed: "MODE DEST FLAGS" per file, "dir
# DEST MODE" per directory the package owns.
lay_out() {
    local kind=$1 root=$2 list=$3
    local src dest mode which flags f target n=0
    rm -rf "$root"
    mkdir -p "$root"
    : >"$list"
    while read -r src dest mode which flags; do
        case "$src" in '' | '#'*) continue ;; esac
        [ "$which" = both ] || [ "$which" = "$kind" ] || continue
        if [ "$src" = - ]; then
            install -d -m "$mode" "$root${dest%/}"
            echo "dir ${dest%/} $mode" >>"$list"
            continue
        fi
        case "$src" in @*) src="$stage/${src#@}" ;; esac
        n=0
        for f in $src; do
            [ -f "$f" ] || {
                echo "build.sh: packaging/contents: no file $f" >&2
                exit 1
            }
            case "$dest" in */) target="$dest$(basename "$f")" ;; *) target="$dest" ;; esac
            install -D -m "$mode" "$f" "$root$target"
            echo "$mode $target $flags" >>"$list"
            n=$((n + 1))
        done
        [ "$n" -gt 0 ] || {
            echo "build.sh: packaging/contents: nothing matches $src" >&2
            exit 1
        }
    done <packaging/contents
    # Reproducible: one time stamp for every file.
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

work="$target_dir/packaging-work"
mkdir -p "$work" "$packages"

build_deb() {
    local root="$work/deb-root" list="$work/deb-files" control
    log "dpkg-deb"
    lay_out deb "$root" "$list"
    control="$root/DEBIAN"
    mkdir -p "$control"
    # Conffiles, and the maintainer scripts (with debhelper's sysusers,
    # tmpfiles and systemd snippets written out).
    awk '$3 ~ /conf/ {print $2}' "$list" >"$control/conffiles"
    for script in postinst prerm postrm; do
        install -m 0755 "packaging/debian/$script" "$control/$script"
    done
    local size
    size="$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)"
    {
        echo "Package: $name"
        echo "Version: $version-1"
        echo "Architecture: $deb_arch"
        echo "Maintainer: $maintainer"
        echo "Installed-Size: $size"
        echo "Depends: $deb_depends"
        echo "Section: admin"
        echo "Priority: optional"
        echo "Homepage: $homepage"
        echo "Description: $summary"
        # Extended description: paragraphs of " text", " ." between them.
        fold -s -w 78 packaging/description | sed -e 's/ *$//' -e 's/^$/./' -e 's/^/ /'
    } >"$control/control"
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0 md5sum) >"$control/md5sums"
    chmod 0644 "$control/control" "$control/conffiles" "$control/md5sums"
    touch -d "@$SOURCE_DATE_EPOCH" "$control"/*
    rm -f "$packages"/tunekeeper_*_"$deb_arch".deb
    dpkg-deb --root-owner-group -Zxz --build "$root" "$packages/${name}_$version-1_$deb_arch.deb" >&2
}

build_rpm() {
    local release=$1 dest=$2 root="$work/rpm-root" list="$work/rpm-files"
    log "rpmbuild (release $release)"
    lay_out rpm "$root" "$list"
    # %files from the same list: modes, %config(noreplace), %doc, %dir.
    awk '
        $1 == "dir" { print "%dir %attr(" $3 ",root,root) " $2; next }
        {
            line = "%attr(" $1 ",root,root) "
            if ($3 ~ /conf/) line = "%config(noreplace) " line
            if ($3 ~ /doc/) line = "%doc " line
            print line $2
        }' "$list" >"$work/rpm-files.spec"
    rm -rf "$work/rpmbuild"
    mkdir -p "$work/rpmbuild" "$dest"
    rpmbuild -bb --quiet --target "$arch-linux" \
        --define "_topdir $work/rpmbuild" \
        --define "tk_name $name" --define "tk_version $version" --define "tk_release $release" \
        --define "tk_summary $summary" --define "tk_license $license" --define "tk_url $homepage" \
        --define "tk_vendor $vendor" --define "tk_packager $maintainer" \
        --define "tk_root $root" --define "tk_files $work/rpm-files.spec" \
        --define "tk_description $repo/packaging/description" \
        --define "tk_scripts $repo/packaging/rpm" \
        packaging/rpm/tunekeeper.spec >&2
    rm -f "$dest"/tunekeeper-*."$arch".rpm
    mv "$work/rpmbuild/RPMS/$arch/$name-$version-$release.$arch.rpm" "$dest/"
}

if $rpm_only; then
    build_rpm "$rpm_release" "$rpm_out"
    ls "$rpm_out/$name-$version-$rpm_release.$arch.rpm"
    exit 0
fi
build_deb
build_rpm 1 "$packages"
ls "$packages/${name}_$version-1_$deb_arch.deb" "$packages/$name-$version-1.$arch.rpm"
