#!/usr/bin/env bash
# Packaging check (called by .ci/run): builds the .deb and .rpm with build.sh
# (one release build; dpkg-deb and rpmbuild),
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
    /usr/share/man/man1/tunekeeper-agent.1.gz
    /usr/share/man/man1/tunekeeper-apply.1.gz
    /usr/share/man/man1/tunekeeper-audit.1.gz
    /usr/share/man/man1/tunekeeper-collector.1.gz
    /usr/share/man/man1/tunekeeper-gc.1.gz
    /usr/share/man/man1/tunekeeper-profiles.1.gz
    /usr/share/man/man1/tunekeeper-profiles-list.1.gz
    /usr/share/man/man1/tunekeeper-profiles-show.1.gz
    /usr/share/man/man1/tunekeeper-rollback.1.gz
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
# Directories the .rpm owns (rpm -e removes them when empty); the .deb's are
# dpkg's to track.
rpm_dirs=(
    /etc/tunekeeper
    /usr/share/bash-completion
    /usr/share/bash-completion/completions
    /usr/share/fish
    /usr/share/fish/vendor_completions.d
    /usr/share/tunekeeper
    /usr/share/tunekeeper/grafana
    /usr/share/tunekeeper/profiles
    /usr/share/tunekeeper/prometheus
    /usr/share/tunekeeper/systemd
    /usr/share/zsh
    /usr/share/zsh/vendor-completions
)

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
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v rpmbuild >/dev/null || need+=(rpm)
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
    shellcheck -s sh packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm packaging/rpm/*.sh
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
mkdir -p "$results"
echo "$((SECONDS - build_start))" >"$results/build-seconds.txt"
mkdir -p "$tmp/rpmroot" "$tmp/debroot"
dpkg-deb -x "$deb" "$tmp/debroot"

step "glibc baseline: no symbol newer than GLIBC_$glibc_baseline"
# The binary as packaged (the .deb's; the .rpm holds the same bytes, below).
packaged_bin="$tmp/debroot/usr/bin/tunekeeper"
[ -x "$packaged_bin" ] || fail "no binary in the .deb"
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
# Only libc6's libraries, and the .deb asks for the baseline, not more. The
# dynamic loader itself is libc6's too (glibc's on RHEL): a thin-LTO build
# links __tls_get_addr@GLIBC_2.3 from it.
needed="$(readelf -dW "$packaged_bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -vx 'ld-linux-x86-64.so.2' | sort | paste -sd' ')"
[ "$needed" = "libc.so.6 libdl.so.2 libm.so.6 libpthread.so.0" ] ||
    fail "the packaged binary needs '$needed': libc6 (>= $glibc_baseline) alone does not cover that"
deb_libc="$(dpkg-deb -f "$deb" Depends | grep -o 'libc6 ([^)]*)')"
[ "$deb_libc" = "libc6 (>= $glibc_baseline)" ] || fail ".deb Depends has '$deb_libc', want 'libc6 (>= $glibc_baseline)'"
rpm_glibc="$(rpm -qp --requires "$rpmfile" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
[ "$rpm_glibc" = "$newest" ] || fail ".rpm requires $rpm_glibc, the binary needs $newest"
echo "$newest" >"$results/glibc-needed.txt"
stat -c %s "$packaged_bin" >"$results/binary-bytes.txt"
echo "ok: the packaged binary needs $newest at most (baseline GLIBC_$glibc_baseline); .deb: $deb_libc; .rpm: libc.so.6($rpm_glibc)"

step "lintian (errors fail, warnings shown)"
lintian --fail-on error,warning --info "$deb" | tee "$tmp/lintian" || fail "lintian reports errors or warnings"
echo "ok: lintian: $(grep -c '^E:' "$tmp/lintian" || true) errors, $(grep -c '^W:' "$tmp/lintian" || true) warnings"

step "contents"
printf '%s\n' "${common_files[@]}" | sort >"$tmp/expect-rpm"
printf '%s\n' "${common_files[@]}" "${deb_only_files[@]}" | sort >"$tmp/expect-deb"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$tmp/deb-files"
same_list ".deb" "$tmp/expect-deb" "$tmp/deb-files"
# Files only: the .rpm also lists the directories it owns (checked below).
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmfile" 2>/dev/null | awk '$1 !~ /^d/ {print $2}' | sort >"$tmp/rpm-files"
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
rpm -K "$rpmfile" | tee "$tmp/rpm-k"
grep -q 'digests.* OK' "$tmp/rpm-k" || fail ".rpm digests do not verify"
rpm2cpio "$rpmfile" >"$tmp/payload.cpio" || fail "rpm2cpio cannot read the .rpm"
(cd "$tmp/rpmroot" && cpio -idm --quiet <"$tmp/payload.cpio") || fail "the .rpm payload does not unpack"
(cd "$tmp/rpmroot" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/rpm-payload"
same_list ".rpm payload (rpm2cpio | cpio)" "$tmp/expect-rpm" "$tmp/rpm-payload"
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
# Modes and owners: root:root everywhere; 0755 for the binary, 0644 else.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $1, $2, $6}' | sort -k3 >"$tmp/deb-modes"
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpmfile" 2>/dev/null |
    awk '$1 !~ /^d/' | sort -k3 >"$tmp/rpm-modes"
for f in "$tmp/deb-modes" "$tmp/rpm-modes"; do
    bad="$(awk '!(($3 == "/usr/bin/tunekeeper" && $1 == "-rwxr-xr-x") || ($3 != "/usr/bin/tunekeeper" && $1 == "-rw-r--r--")) || $2 != "root/root"' "$f")"
    [ -z "$bad" ] || fail "unexpected mode or owner in ${f##*/}: $bad"
done
echo "ok: modes and owners (root:root; 0755 binary, 0644 the rest) in both packages"
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmfile" 2>/dev/null | awk '$1 ~ /^d/ {print $2}' | sort >"$tmp/rpm-dirs"
printf '%s\n' "${rpm_dirs[@]}" | sort >"$tmp/expect-rpm-dirs"
same_list ".rpm owned directories" "$tmp/expect-rpm-dirs" "$tmp/rpm-dirs"

step ".rpm metadata: URL, vendor, group, description; .deb's homepage and description"
for tag in URL VENDOR GROUP PACKAGER LICENSE; do
    value="$(rpm -qp --qf "%{$tag}" "$rpmfile" 2>/dev/null)"
    case "$value" in '' | '(none)') fail ".rpm has no $tag" ;; esac
    echo "$tag: $value"
done
rpm_url="$(rpm -qp --qf '%{URL}' "$rpmfile" 2>/dev/null)"
[ "$(dpkg-deb -f "$deb" Homepage)" = "$rpm_url" ] || fail "the .deb's Homepage is not the .rpm's URL ($rpm_url)"
rpm -qp --qf '%{DESCRIPTION}\n' "$rpmfile" 2>/dev/null >"$tmp/rpm-description"
dpkg-deb -f "$deb" Description | tail -n +2 | sed -e 's/^ //' -e 's/^\.$//' >"$tmp/deb-description"
[ "$(wc -l <"$tmp/rpm-description")" -ge 3 ] || fail "the .rpm's description is $(wc -l <"$tmp/rpm-description") line(s)"
diff -u "$tmp/deb-description" "$tmp/rpm-description" || fail "the .deb's and the .rpm's long descriptions differ"
[ "$(dpkg-deb -f "$deb" Description | head -n 1)" = "$(rpm -qp --qf '%{SUMMARY}' "$rpmfile" 2>/dev/null)" ] ||
    fail "the .deb's and the .rpm's summaries differ"
echo "ok: .rpm URL, vendor, group, packager, licence; the same $(wc -l <"$tmp/rpm-description")-line description and summary in both"

step "man pages and completions"
man1="$tmp/debroot/usr/share/man/man1"
for page in "$man1"/*.1.gz; do
    gzip -t "$page"
    zcat "$page" | grep -q "^\.TH $(basename "$page" .1.gz) 1" || fail "${page##*/} has no .TH header naming it"
done
# Every page a page names, `tunekeeper-agent(1)` (roff writes `\-`), is shipped.
zcat "$man1"/*.1.gz | grep -o 'tunekeeper[a-z\\-]*([0-9])' | sed 's/\\-/-/g' | sort -u >"$tmp/man-refs"
while read -r ref; do
    [ -f "$man1/${ref%(*}.1.gz" ] || fail "a man page refers to $ref, which the package does not ship"
done <"$tmp/man-refs"
[ "$(wc -l <"$tmp/man-refs")" -ge 8 ] || fail "the man pages name only $(wc -l <"$tmp/man-refs") pages"
echo "ok: $(find "$man1" -name '*.1.gz' | wc -l) man pages; every one of the $(wc -l <"$tmp/man-refs") pages they name is shipped"
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
# build.sh --rpm-release repackages the staged files: nothing is rebuilt.
release="$(rpm -qp --qf '%{RELEASE}' "$rpmfile" 2>/dev/null)"
rpmnext="$(packaging/build.sh --rpm-release "$((release + 1))" "$tmp/next")"
cmp -s <(rpm2cpio "$rpmnext" | cpio -i --quiet --to-stdout ./usr/bin/tunekeeper) "$tmp/rpmroot/usr/bin/tunekeeper" ||
    fail "the next release's binary is not the one tested"
container_start=$SECONDS
bash packaging/container-check.sh "$deb" "$rpmfile" "$rpmnext"
echo "$((SECONDS - container_start))" >"$results/container-check-seconds.txt"
echo "ok: container-check.sh in $((SECONDS - container_start))s"
