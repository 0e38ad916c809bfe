#!/usr/bin/env bash
# Packaging check (called by .ci/run): builds the .deb and .rpm with build.sh,
# checks that the packaged binary needs no glibc newer than the baseline
# (2.17), lints the packages, compares their contents with the expected list,
# verifies the systemd units (and the agent's exposure score), installs the
# .deb, runs the installed binary, checks upgrade/remove/purge, unpacks the
# .rpm, and then (container-check.sh) proves both packages under a real
# systemd in a booted Debian container and under a real `rpm --root`.
#
# Needs root for the install part (without root it stops after the static
# checks and says so). Installs its tools with apt-get when root and missing.
# Leaves the machine as it found it: the package is purged on any exit, and
# the `tunekeeper` user is removed again if it did not exist before.
# TUNEKEEPER_SKIP_CONTAINER=1 skips the container part (not allowed under CI).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
start=$SECONDS
# Figures for the README and the CI log land here.
results="${CARGO_TARGET_DIR:-$repo/target}/packaging-check"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export SYSTEMD_PAGER="" PAGER=cat

step() { printf '\n== check.sh [%3ds]: %s\n' "$((SECONDS - start))" "$*"; }
fail() {
    printf 'check.sh: FAIL: %s\n' "$*" >&2
    exit 1
}

# The maximum accepted `systemd-analyze security` exposure of the agent unit.
max_exposure=3.0
# The oldest glibc the packaged binary may need (RHEL/CentOS 7).
glibc_baseline=2.17

# Files both packages hold (directories not listed).
common_files=(
    /etc/default/tunekeeper
    /etc/tunekeeper/agent.toml
    /usr/bin/tunekeeper
    /usr/lib/systemd/system-preset/90-tunekeeper.preset
    /usr/lib/systemd/system/tunekeeper-agent.service
    /usr/lib/systemd/system/tunekeeper-apply.service
    /usr/lib/sysusers.d/tunekeeper.conf
    /usr/lib/tmpfiles.d/tunekeeper-agent.conf
    /usr/share/bash-completion/completions/tunekeeper
    /usr/share/fish/vendor_completions.d/tunekeeper.fish
    /usr/share/man/man1/tunekeeper.1.gz
    /usr/share/tunekeeper/grafana/tunekeeper-agent.json
    /usr/share/tunekeeper/profiles/base.toml
    /usr/share/tunekeeper/profiles/kafka-broker.toml
    /usr/share/tunekeeper/profiles/kraft-controller.toml
    /usr/share/tunekeeper/profiles/zookeeper.toml
    /usr/share/tunekeeper/prometheus/tunekeeper-rules.yml
    /usr/share/tunekeeper/systemd/read-jvm-counters.conf
    /usr/share/zsh/vendor-completions/_tunekeeper
)
# Debian-only files (policy: copyright; lintian's overrides).
deb_only_files=(
    /usr/share/doc/tunekeeper/changelog.Debian.gz
    /usr/share/doc/tunekeeper/copyright
    /usr/share/lintian/overrides/tunekeeper
)
conffiles=(/etc/default/tunekeeper /etc/tunekeeper/agent.toml)

is_root=false
[ "$(id -u)" -eq 0 ] && is_root=true

tmp="$(mktemp -d)"
installed=false
user_existed=false
getent passwd tunekeeper >/dev/null && user_existed=true

cleanup() {
    local rc=$?
    set +e
    if $installed || dpkg-query -W -f='${Status}' tunekeeper 2>/dev/null | grep -q installed; then
        echo "== check.sh: cleanup: dpkg -P tunekeeper" >&2
        dpkg -P tunekeeper >/dev/null 2>&1
    fi
    if $is_root && ! $user_existed && getent passwd tunekeeper >/dev/null; then
        echo "== check.sh: cleanup: removing the test-created user tunekeeper" >&2
        userdel tunekeeper 2>/dev/null
        getent group tunekeeper >/dev/null && groupdel tunekeeper 2>/dev/null
    fi
    rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        echo "== check.sh: PASS in $((SECONDS - start))s"
    else
        echo "== check.sh: FAILED (exit $rc) after $((SECONDS - start))s" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT

# Compares two sorted lists; prints a diff and fails when they differ.
same_list() {
    local what=$1 expected=$2 actual=$3
    if ! diff -u "$expected" "$actual"; then
        fail "$what: file list differs from the expected list (- expected, + actual)"
    fi
    echo "ok: $what: $(wc -l <"$actual") files as expected"
}

step "tools"
if dpkg-query -W -f='${Status}' tunekeeper 2>/dev/null | grep -q 'install ok installed'; then
    # Refuse rather than purge someone's real installation.
    trap - EXIT
    rm -rf "$tmp"
    fail "package tunekeeper is already installed here; remove it first"
fi
need=()
command -v lintian >/dev/null || need+=(lintian)
command -v rpm >/dev/null || need+=(rpm)
command -v rpm2cpio >/dev/null || need+=(rpm2cpio)
command -v cpio >/dev/null || need+=(cpio)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v systemd-sysusers >/dev/null || need+=(systemd)
command -v strip >/dev/null || need+=(binutils)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v objdump >/dev/null || need+=(binutils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ "${#need[@]}" -gt 0 ]; then
    if $is_root; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    else
        echo "missing ${need[*]} and not root" >&2
    fi
fi

step "shellcheck"
if command -v shellcheck >/dev/null; then
    shellcheck packaging/build.sh packaging/check.sh packaging/container-check.sh
    shellcheck -s sh packaging/debian/postrm packaging/rpm/*.sh
    echo "ok: shellcheck clean"
else
    echo "skipped: shellcheck not available"
fi

step "build (packaging/build.sh)"
build_start=$SECONDS
packaging/build.sh >"$tmp/built"
deb="$(grep '\.deb$' "$tmp/built")"
rpmfile="$(grep '\.rpm$' "$tmp/built")"
[ -f "$deb" ] || fail "no .deb built"
[ -f "$rpmfile" ] || fail "no .rpm built"
echo "built in $((SECONDS - build_start))s: $deb $rpmfile"

step "glibc baseline: no symbol newer than GLIBC_$glibc_baseline"
# The binary as packaged (the staged, stripped copy both packages hold).
packaged_bin="$(dirname "$deb")/../x86_64-unknown-linux-gnu/release/packaging/tunekeeper"
[ -x "$packaged_bin" ] || fail "no staged binary at $packaged_bin"
objdump -T "$packaged_bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V >"$tmp/glibc-versions"
[ -s "$tmp/glibc-versions" ] || fail "objdump -T shows no GLIBC_ version at all"
newest="$(tail -n 1 "$tmp/glibc-versions")"
echo "versions needed: $(tr '\n' ' ' <"$tmp/glibc-versions")"
too_new="$(sed 's/^GLIBC_//' "$tmp/glibc-versions" | while read -r v; do
    [ "$(printf '%s\n%s\n' "$v" "$glibc_baseline" | sort -V | tail -n 1)" = "$glibc_baseline" ] || echo "$v"
done)"
if [ -n "$too_new" ]; then
    objdump -T "$packaged_bin" | grep -E "GLIBC_($(echo "$too_new" | paste -sd'|'))[^0-9.]" >&2 || true
    fail "the packaged binary needs glibc $(echo "$too_new" | paste -sd' ') (newer than $glibc_baseline)"
fi
# The interpreter must be the generic one, not a path only newer systems have.
interp="$(readelf -lW "$packaged_bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
[ "$interp" = /lib64/ld-linux-x86-64.so.2 ] || fail "program interpreter is '$interp'"
# Only libc6's libraries, and the .deb asks for the baseline, not more.
needed="$(readelf -dW "$packaged_bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | paste -sd' ')"
[ "$needed" = "libc.so.6 libdl.so.2 libm.so.6 libpthread.so.0" ] ||
    fail "the packaged binary needs '$needed': libc6 (>= $glibc_baseline) alone does not cover that"
deb_libc="$(dpkg-deb -f "$deb" Depends | grep -o 'libc6 ([^)]*)')"
[ "$deb_libc" = "libc6 (>= $glibc_baseline)" ] || fail ".deb Depends has '$deb_libc', want 'libc6 (>= $glibc_baseline)'"
rpm_glibc="$(rpm -qp --requires "$rpmfile" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
[ "$rpm_glibc" = "$newest" ] || fail ".rpm requires $rpm_glibc, the binary needs $newest"
mkdir -p "$results"
echo "$newest" >"$results/glibc-needed.txt"
echo "ok: the packaged binary needs $newest at most (baseline GLIBC_$glibc_baseline); .deb: $deb_libc; .rpm: libc.so.6($rpm_glibc)"

step "lintian (errors fail, warnings shown)"
lintian --fail-on error --info "$deb" | tee "$tmp/lintian" || fail "lintian reports errors"
echo "ok: lintian: $(grep -c '^E:' "$tmp/lintian" || true) errors, $(grep -c '^W:' "$tmp/lintian" || true) warnings"

step "contents"
printf '%s\n' "${common_files[@]}" | sort >"$tmp/expect-rpm"
printf '%s\n' "${common_files[@]}" "${deb_only_files[@]}" | sort >"$tmp/expect-deb"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$tmp/deb-files"
same_list ".deb" "$tmp/expect-deb" "$tmp/deb-files"
rpm -qlp "$rpmfile" 2>/dev/null | sort >"$tmp/rpm-files"
same_list ".rpm" "$tmp/expect-rpm" "$tmp/rpm-files"

dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | sort >"$tmp/deb-conffiles"
printf '%s\n' "${conffiles[@]}" | sort >"$tmp/expect-conffiles"
same_list ".deb conffiles" "$tmp/expect-conffiles" "$tmp/deb-conffiles"
rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpmfile" 2>/dev/null |
    awk '$2 ~ /c/ && $2 ~ /n/ {print $1}' | sort >"$tmp/rpm-conffiles"
same_list ".rpm %config(noreplace)" "$tmp/expect-conffiles" "$tmp/rpm-conffiles"
for s in preinstall postinstall preuninstall postuninstall; do
    rpm -qp --scripts "$rpmfile" 2>/dev/null | grep -q "^$s scriptlet" || fail ".rpm has no $s scriptlet"
done
echo "ok: .rpm has %pre, %post, %preun, %postun"
# systemd 219 (RHEL/CentOS 7) ignores StateDirectory=: both packages create
# the agent's state directory from the tmpfiles.d entry at install.
tmpfiles_cmd='systemd-tmpfiles --create'
rpm -qp --scripts "$rpmfile" 2>/dev/null | grep -q "$tmpfiles_cmd /usr/lib/tmpfiles.d/tunekeeper-agent.conf" ||
    fail ".rpm %post does not run '$tmpfiles_cmd' on tunekeeper-agent.conf"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -q "$tmpfiles_cmd tunekeeper-agent.conf" ||
    fail ".deb postinst does not run '$tmpfiles_cmd' on tunekeeper-agent.conf"
echo "ok: .deb postinst and .rpm %post run $tmpfiles_cmd on the agent's tmpfiles.d entry"
# The glibc baseline is RHEL 7's, so is the payload: its rpm 4.11 reads xz, not zstd.
payload="$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' "$rpmfile" 2>/dev/null)"
[ "$payload" = xz ] || fail ".rpm payload is compressed with '$payload', not xz (RHEL 7's rpm reads no zstd)"
echo "ok: .rpm payload xz"

# The .rpm payload unpacks to the same files with the same bytes (the binary
# too: both packages take the one staged, stripped copy).
mkdir -p "$tmp/rpmroot" "$tmp/debroot"
# rpm -K checks the header and payload digests. rpm2cpio exits 1 on these
# packages although it writes the whole payload: cargo-generate-rpm does not
# set the (optional) ARCHIVESIZE tag and rpm2cpio compares the bytes copied
# with it. So its status is not trusted; the digest and cpio's status are.
rpm -K "$rpmfile" | tee "$tmp/rpm-k"
grep -q 'digests.* OK' "$tmp/rpm-k" || fail ".rpm digests do not verify"
rpm2cpio "$rpmfile" >"$tmp/payload.cpio" || true
(cd "$tmp/rpmroot" && cpio -idm --quiet <"$tmp/payload.cpio") || fail "the .rpm payload does not unpack"
(cd "$tmp/rpmroot" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/rpm-payload"
same_list ".rpm payload (rpm2cpio | cpio)" "$tmp/expect-rpm" "$tmp/rpm-payload"
dpkg-deb -x "$deb" "$tmp/debroot"
for f in "${common_files[@]}"; do
    cmp -s "$tmp/debroot$f" "$tmp/rpmroot$f" || fail "$f differs between the .deb and the .rpm"
done
[ "$("$tmp/debroot/usr/bin/tunekeeper" --version)" = "$("$tmp/rpmroot/usr/bin/tunekeeper" --version)" ] ||
    fail "the two binaries report different versions"
for f in "$tmp/debroot/usr/bin/tunekeeper" "$tmp/rpmroot/usr/bin/tunekeeper"; do
    file_info="$(readelf -SW "$f" 2>/dev/null | grep -cE '\.debug_(info|line|str)' || true)"
    [ "$file_info" -eq 0 ] || fail "${f#"$tmp"} still carries debug sections"
done
echo "ok: same bytes in both packages; binaries stripped"

step "man page and completions"
gzip -t "$tmp/debroot/usr/share/man/man1/tunekeeper.1.gz"
zcat "$tmp/debroot/usr/share/man/man1/tunekeeper.1.gz" | grep -q '^\.TH tunekeeper 1' || fail "man page has no .TH header"
bash -n "$tmp/debroot/usr/share/bash-completion/completions/tunekeeper" || fail "bash completion does not parse"
grep -q '^#compdef tunekeeper' "$tmp/debroot/usr/share/zsh/vendor-completions/_tunekeeper" || fail "zsh completion lacks #compdef"
grep -q '^complete -c tunekeeper' "$tmp/debroot/usr/share/fish/vendor_completions.d/tunekeeper.fish" || fail "fish completion looks wrong"
echo "ok: man page and bash/zsh/fish completions"

step "systemd-analyze security --offline (agent exposure < $max_exposure)"
# Offline, on the unit files from the package (the analysis needs no binary).
security_out="$(systemd-analyze security --no-pager --offline=true \
    "$tmp/debroot/usr/lib/systemd/system/tunekeeper-agent.service" 2>&1)" || true
printf '%s\n' "$security_out" | grep -E '^(✗|✓)? *[A-Z]|Overall' | tail -n 40
exposure="$(printf '%s\n' "$security_out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || fail "no exposure figure from systemd-analyze security"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e < m) }' ||
    fail "agent exposure $exposure is not under $max_exposure"
echo "ok: tunekeeper-agent.service exposure $exposure (< $max_exposure)"
mkdir -p "$results"
echo "$exposure" >"$results/agent-exposure.txt"

if ! $is_root; then
    echo "== check.sh: not root: the install, verify and purge checks are SKIPPED" >&2
    exit 0
fi

step "dpkg -i"
installed=true
dpkg -i "$deb"
for f in "${common_files[@]}" "${deb_only_files[@]}"; do
    [ -e "$f" ] || fail "$f missing after install"
done
pw="$(getent passwd tunekeeper)" || fail "user tunekeeper was not created"
echo "user: $pw"
[ "$(cut -d: -f6 <<<"$pw")" = /var/lib/tunekeeper ] || fail "tunekeeper's home is not /var/lib/tunekeeper"
case "$(cut -d: -f7 <<<"$pw")" in */nologin) ;; *) fail "tunekeeper's shell is not nologin" ;; esac
[ "$(cut -d: -f3 <<<"$pw")" -lt 1000 ] || fail "tunekeeper is not a system user"
[ -L /etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service ] ||
    fail "tunekeeper-agent.service is not enabled after install"
[ ! -e /etc/systemd/system/multi-user.target.wants/tunekeeper-apply.service ] ||
    fail "tunekeeper-apply.service is enabled after install (it must be opt-in)"
echo "ok: installed; user; agent enabled, apply not enabled"

step "systemd-analyze verify (installed units)"
verify_out="$(systemd-analyze verify --man=no \
    /usr/lib/systemd/system/tunekeeper-agent.service \
    /usr/lib/systemd/system/tunekeeper-apply.service 2>&1)" ||
    {
        printf '%s\n' "$verify_out"
        fail "systemd-analyze verify failed"
    }
[ -z "$verify_out" ] || printf '%s\n' "$verify_out"
# Offline, verify may also talk about referenced units that do not exist
# here (kafka.service ...); only lines about our own units count.
if printf '%s\n' "$verify_out" | grep -i 'tunekeeper'; then
    fail "systemd-analyze verify reports problems in tunekeeper's units"
fi
echo "ok: systemd-analyze verify"

step "run the installed binary"
/usr/bin/tunekeeper --version
/usr/bin/tunekeeper profiles list >/dev/null || fail "tunekeeper profiles list failed"
run_audit() {
    local rc=0
    "$@" >"$tmp/audit.out" 2>&1 || rc=$?
    tail -n 3 "$tmp/audit.out"
    [ "$rc" -le 1 ] || {
        cat "$tmp/audit.out"
        fail "'$*' exited $rc"
    }
    echo "ok: '$*' exit $rc"
}
run_audit /usr/bin/tunekeeper audit
# The agent's identity: audits unprivileged.
run_audit setpriv --reuid=tunekeeper --regid=tunekeeper --clear-groups /usr/bin/tunekeeper audit

step "upgrade keeps an edited conffile"
# Same version again: dpkg treats it as an upgrade and must keep the edit.
echo '# edited by check.sh' >>/etc/tunekeeper/agent.toml
dpkg -i "$deb" >/dev/null </dev/null
grep -q '^# edited by check.sh' /etc/tunekeeper/agent.toml || fail "upgrade lost the edited agent.toml"
echo "ok: edited agent.toml kept"

step "remove keeps config, purge removes everything"
# State the services would have created.
mkdir -p /var/lib/tunekeeper/agent/spool
echo '{}' >/var/lib/tunekeeper/agent/spool/report.json
echo '{}' >/var/lib/tunekeeper/rollback.json
dpkg -r tunekeeper >/dev/null
[ ! -e /usr/bin/tunekeeper ] || fail "/usr/bin/tunekeeper left after remove"
[ -e /etc/tunekeeper/agent.toml ] || fail "remove deleted the conffile (only purge may)"
dpkg -P tunekeeper >/dev/null
installed=false
leftovers=()
for p in /usr/bin/tunekeeper /etc/tunekeeper /etc/default/tunekeeper /var/lib/tunekeeper \
    /usr/share/tunekeeper /usr/share/doc/tunekeeper /usr/lib/sysusers.d/tunekeeper.conf \
    /usr/lib/tmpfiles.d/tunekeeper-agent.conf \
    /usr/lib/systemd/system/tunekeeper-agent.service /usr/lib/systemd/system/tunekeeper-apply.service \
    /usr/lib/systemd/system-preset/90-tunekeeper.preset \
    /etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service \
    /etc/systemd/system/multi-user.target.wants/tunekeeper-apply.service \
    /var/lib/systemd/deb-systemd-helper-enabled/tunekeeper-agent.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/tunekeeper-agent.service \
    /usr/share/man/man1/tunekeeper.1.gz /usr/share/bash-completion/completions/tunekeeper \
    /usr/share/zsh/vendor-completions/_tunekeeper /usr/share/fish/vendor_completions.d/tunekeeper.fish; do
    if [ -e "$p" ] || [ -L "$p" ]; then leftovers+=("$p"); fi
done
[ "${#leftovers[@]}" -eq 0 ] || fail "left after purge: ${leftovers[*]}"
if dpkg-query -W tunekeeper >/dev/null 2>&1; then fail "dpkg still knows the package after purge"; fi
# Decision (README, "Upgrade, remove, purge"): the system user stays after purge.
getent passwd tunekeeper >/dev/null || fail "purge removed the user tunekeeper (it should stay, Debian practice)"
echo "ok: purge left nothing but the (deliberately kept) user tunekeeper"

step "under a real systemd and a real rpm (container-check.sh)"
if [ "${TUNEKEEPER_SKIP_CONTAINER:-}" = 1 ]; then
    [ "${CI:-}" != true ] || fail "TUNEKEEPER_SKIP_CONTAINER=1 is not allowed under CI"
    echo "skipped: TUNEKEEPER_SKIP_CONTAINER=1" >&2
    exit 0
fi
# The next release of the same .rpm, for the upgrade (same files, release+1).
release="$(rpm -qp --qf '%{RELEASE}' "$rpmfile" 2>/dev/null)"
mkdir -p "$tmp/next"
(
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
    cargo generate-rpm --target x86_64-unknown-linux-gnu --payload-compress xz --set-metadata "release = \"$((release + 1))\"" \
        --output "$tmp/next/" >&2
)
rpmnext="$(ls "$tmp"/next/tunekeeper-*.rpm)"
container_start=$SECONDS
bash packaging/container-check.sh "$deb" "$rpmfile" "$rpmnext"
echo "$((SECONDS - container_start))" >"$results/container-check-seconds.txt"
echo "ok: container-check.sh in $((SECONDS - container_start))s"
