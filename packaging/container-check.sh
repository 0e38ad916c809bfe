#!/usr/bin/env bash
# The packages under a real systemd and a real rpm (called by check.sh):
#
# 1. A minimal Debian (mmdebstrap, cached as a tarball) boots with
#    systemd-nspawn in its own network namespace. A stand-in broker — a real
#    JVM (the host's JDK, bound in read-only) running kafka.Kafka as the user
#    `kafka`, its GC log in /var/log/kafka readable only by the group kafka —
#    runs as a service. The .deb is installed with dpkg and checked: the agent
#    runs as `tunekeeper`, finds the broker, reports its GC log unreadable,
#    spools, the broker's counters (hsperfdata, 0600) "permission denied"
#    with the remedy; with the README's `SupplementaryGroups=kafka` drop-in
#    and an endpoint it reads the log and delivers to `tunekeeper collector`
#    on the container's loopback; with the shipped read-jvm-counters.conf
#    drop-in instead (CAP_DAC_READ_SEARCH) it reads the log and the
#    counters, and the log is verified against them; it survives a restart
#    and stops cleanly;
#    tunekeeper-apply fails cleanly on the read-only /proc/sys; remove and
#    purge leave what the README says.
# 2. The .rpm is installed into an unpacked copy of the same tree with
#    `rpm --root`, so its scriptlets run (chrooted): user, preset, upgrade to
#    a second release keeping an edited config, erase.
#
# usage: container-check.sh DEB RPM RPM_NEXT_RELEASE
#        container-check.sh --prepare   (only build the cached Debian trees;
#                                        .ci/run runs it in the background)
# Needs root, systemd-nspawn (systemd-container), mmdebstrap, rpm, curl, jq
# and a JDK on the host. Under CI=true a missing JDK fails; elsewhere the
# broker part is skipped with a message.
# Environment: TUNEKEEPER_ROOTFS_CACHE, the directory of the cached tarball
# (default: $CARGO_TARGET_DIR or the clone's target/, then container-cache/).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
start=$SECONDS
prepare=false
if [ "$#" -eq 1 ] && [ "$1" = --prepare ]; then
    prepare=true
elif [ "$#" -eq 3 ]; then
    deb=$(realpath "$1")
    rpmfile=$(realpath "$2")
    rpmnext=$(realpath "$3")
else
    echo "usage: $0 DEB RPM RPM_NEXT_RELEASE | --prepare" >&2
    exit 2
fi

step() { printf '\n== container-check.sh [%3ds]: %s\n' "$((SECONDS - start))" "$*"; }
fail() {
    printf 'container-check.sh: FAIL: %s\n' "$*" >&2
    exit 1
}
ok() { printf 'ok: %s\n' "$*"; }

# The root file system: Debian 12 (the host's release, so the host's JDK runs
# in it) with systemd as init. Its tarball is cached by the options' hash.
suite=bookworm
mirror=http://deb.debian.org/debian
mm_opts=(--variant=apt "--include=systemd systemd-sysv dbus libstdc++6 zlib1g")
cache="${TUNEKEEPER_ROOTFS_CACHE:-${CARGO_TARGET_DIR:-$repo/target}/container-cache}"
key="$(printf '%s\n' "$suite" "$mirror" "${mm_opts[@]}" | sha256sum | cut -c1-12)"
tarball="$cache/debian-$suite-systemd-$key.tar"
# The oldest Debian release on the mirror, for the glibc check at the end;
# RHEL 7's 2.17 itself is not to be had here (objdump in check.sh covers it).
old_suite=bullseye
old_tarball="$cache/debian-$old_suite-essential.tar"

# ensure_tarball TARBALL SUITE MMDEBSTRAP-OPTIONS...: builds and caches a
# tree once (a tree of another key, from older options, is deleted).
# Under a lock, so a --prepare running in the background and the check
# itself never build the same tree twice or read a half-written one.
ensure_tarball() {
    local tarball=$1 suite=$2 t0=$SECONDS
    shift 2
    mkdir -p "$cache"
    (
        flock 9
        if [ -s "$tarball" ]; then
            echo "ok: cached: $tarball"
            exit 0
        fi
        find "$cache" -maxdepth 1 -name "debian-$suite-*.tar*" -delete
        timeout 900 mmdebstrap --quiet "$@" --format=tar "$suite" "$tarball.part" "$mirror" ||
            fail "mmdebstrap could not build $tarball"
        mv "$tarball.part" "$tarball"
        echo "ok: built and cached $tarball in $((SECONDS - t0))s"
    ) 9>"$cache/.lock"
}

if $prepare; then
    [ "$(id -u)" -eq 0 ] || fail "needs root"
    ensure_tarball "$tarball" "$suite" "${mm_opts[@]}"
    ensure_tarball "$old_tarball" "$old_suite" --variant=essential
    exit 0
fi

tmp="$(mktemp -d /var/tmp/tunekeeper-container.XXXXXX)"
root="$tmp/root"
machine="tk-check-$$"
nspawn_pid=""
leader=""

cleanup() {
    local rc=$?
    set +e
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        # SIGTERM asks the container's systemd for an orderly poweroff.
        kill -TERM "$nspawn_pid" 2>/dev/null
        for _ in $(seq 60); do
            kill -0 "$nspawn_pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$nspawn_pid" 2>/dev/null; then
            echo "container-check.sh: cleanup: the container did not stop in 30s: SIGKILL" >&2
            kill -KILL "$nspawn_pid" 2>/dev/null
            sleep 1
        fi
    fi
    # Whatever is still mounted below the temporary directory (nspawn's own
    # mounts go with it; an interrupted rpm --root may leave /proc).
    findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] && [ -f "$tmp/console.log" ]; then
        echo "== container-check.sh: the container's console (last 40 lines):" >&2
        tail -n 40 "$tmp/console.log" >&2
    fi
    rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        echo "== container-check.sh: PASS in $((SECONDS - start))s"
    else
        echo "== container-check.sh: FAILED (exit $rc) after $((SECONDS - start))s" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local until=$((SECONDS + limit))
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || fail "$what: not within ${limit}s"
        sleep 0.5
    done
}

# Runs a command inside the booted container (its mount, pid, network, uts
# and ipc namespaces), with a clean environment.
in_ct() {
    timeout 120 nsenter -t "$leader" -m -u -i -n -p -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
        DEBIAN_FRONTEND=noninteractive "$@"
}
# Host tools (curl) in the container's network namespace only.
in_ct_net() { timeout 60 nsenter -t "$leader" -n -- "$@"; }

[ "$(id -u)" -eq 0 ] || fail "needs root"
for tool in systemd-nspawn mmdebstrap nsenter rpm curl jq; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install systemd-container mmdebstrap util-linux rpm curl jq)"
done

step "root file system ($tarball)"
ensure_tarball "$tarball" "$suite" "${mm_opts[@]}"
mkdir -p "$root"
tar -C "$root" -xf "$tarball"
# A console login prompt would wait on nobody; the apt timers do network work.
for unit in console-getty.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
cp "$deb" "$root/root/tunekeeper.deb"

# The stand-in broker: kafka.Kafka on the host's JDK.
java_home=""
if command -v javac >/dev/null && command -v java >/dev/null; then
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    mkdir -p "$root/opt/broker"
    javac --release 11 -d "$root/opt/broker" "$repo/packaging/container/kafka/Kafka.java"
elif [ "${CI:-}" = true ]; then
    fail "no JDK on this machine (.ci/run installs default-jdk-headless)"
else
    echo "container-check.sh: no JDK here: the broker part is SKIPPED" >&2
fi
binds=()
if [ -n "$java_home" ]; then
    binds+=("--bind-ro=$java_home")
    # Debian's JDK keeps its conf/ and cacerts as links into /etc.
    # Bound as whole /etc/java-* directories; other targets (cacerts) as
    # themselves; dangling links (src.zip without the sources) not at all.
    while read -r link; do
        target="$(readlink -e "$link")" || continue
        case "$target" in
            "$java_home"/*) ;;
            /etc/java-*/*) binds+=("--bind-ro=$(cut -d/ -f1-3 <<<"$target")") ;;
            *) binds+=("--bind-ro=$target") ;;
        esac
    done < <(find "$java_home" -type l)
fi
# The unique bind mounts (a directory bound once covers the files below it).
mapfile -t binds < <(printf '%s\n' "${binds[@]}" | sort -u)

step "boot (systemd-nspawn --boot --register=no --keep-unit --private-network)"
boot_t0=$SECONDS
systemd-nspawn --boot --register=no --keep-unit --private-network --console=passive \
    --machine="$machine" -D "$root" "${binds[@]}" >"$tmp/console.log" 2>&1 &
nspawn_pid=$!
find_leader() {
    leader="$(pgrep -P "$nspawn_pid" -x systemd | head -n 1)"
    [ -n "$leader" ]
}
wait_for 30 "the container's systemd to start" find_leader
state=""
until_t=$((SECONDS + 120))
while [ "$SECONDS" -lt "$until_t" ]; do
    state="$(in_ct systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running | degraded) break ;; esac
    sleep 0.5
done
case "$state" in
    running) ;;
    degraded) in_ct systemctl --failed --no-legend || true ;;
    *) fail "the container did not finish booting in 120s (state: '$state')" ;;
esac
ok "booted in $((SECONDS - boot_t0))s: $state; systemd $(in_ct systemctl --version | head -n 1)"
hostname="$(in_ct cat /proc/sys/kernel/hostname)"

broker_pid=""
if [ -n "$java_home" ]; then
    step "broker: kafka.Kafka as user kafka, GC log 0640 kafka:kafka in /var/log/kafka (0750)"
    in_ct useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kafka
    in_ct install -d -o kafka -g kafka -m 0750 /var/log/kafka
    in_ct systemd-run --quiet --unit=kafka --uid=kafka --gid=kafka -p UMask=0027 \
        "$java_home/bin/java" -Xms64m -Xmx64m -XX:+UseG1GC \
        "-Xlog:gc*:file=/var/log/kafka/kafkaServer-gc.log:time,uptime,level,tags" \
        -cp /opt/broker kafka.Kafka 4
    broker_busy_done() { in_ct journalctl -u kafka --no-pager -o cat | grep -q 'busy phase done'; }
    wait_for 60 "the broker's busy phase" broker_busy_done
    broker_pid="$(in_ct systemctl show -p MainPID --value kafka)"
    [ "$broker_pid" -gt 0 ] || fail "the broker is not running"
    # Numeric ids: the host's names for them differ from the container's.
    kafka_ids="$(in_ct id -u kafka):$(in_ct id -g kafka)"
    log_mode="$(stat -c '%a %u:%g' "$root/var/log/kafka/kafkaServer-gc.log")"
    [ "$log_mode" = "640 $kafka_ids" ] || fail "GC log is $log_mode, want 640 $kafka_ids (kafka:kafka)"
    young="$(grep -c 'Pause Young' "$root/var/log/kafka/kafkaServer-gc.log" || true)"
    [ "$young" -gt 0 ] || fail "the broker's GC log holds no young pause"
    ok "broker pid $broker_pid (in the container), $young young-pause lines in its GC log"
fi

step "dpkg -i: the agent starts as tunekeeper"
in_ct dpkg -i /root/tunekeeper.deb >"$tmp/dpkg-i.log" 2>&1 || {
    cat "$tmp/dpkg-i.log"
    fail "dpkg -i failed in the container"
}
agent_active() { [ "$(in_ct systemctl is-active tunekeeper-agent)" = active ]; }
wait_for 30 "tunekeeper-agent.service active after install" agent_active
uid_of() { in_ct getent passwd "$1" | cut -d: -f3; }
tk_uid="$(uid_of tunekeeper)"
agent_pid="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
status="$(in_ct cat "/proc/$agent_pid/status")"
euid="$(awk '/^Uid:/ {print $3}' <<<"$status")"
[ "$euid" = "$tk_uid" ] || fail "the agent runs as uid $euid, not tunekeeper ($tk_uid)"
[ "$tk_uid" -ne 0 ] || fail "tunekeeper is uid 0"
caps="$(awk '/^CapEff:/ {print $2}' <<<"$status")"
[ "$caps" = 0000000000000000 ] || fail "the agent has capabilities $caps"
ok "agent pid $agent_pid runs as tunekeeper (uid $tk_uid), no capabilities"

spool="$root/var/lib/tunekeeper/agent/spool"
has_report() { compgen -G "$spool/*.json.gz" >/dev/null; }
newest_report() { find "$spool" -maxdepth 1 -name '*.json.gz' -printf '%f\n' | sort | tail -n 1; }
wait_for 30 "a report in the spool" has_report
owner="$(stat -c '%u %a' "$spool/$(newest_report)")"
[ "$owner" = "$tk_uid 600" ] || fail "spool file owner/mode '$owner', want '$tk_uid 600' (tunekeeper, 0600)"
ok "the agent spools (no endpoint yet): $(find "$spool" -maxdepth 1 -name '*.json.gz' | wc -l) report(s), owner tunekeeper, mode 0600"

if [ -n "$broker_pid" ]; then
    # Without the drop-in the log is out of reach: the report must say so.
    report="$(zcat "$spool/$(newest_report)")"
    why="$(jq -r --argjson pid "$broker_pid" \
        '.jvms[] | select(.pid == $pid) | .findings[] | select(.check == "gc" and .key == "log") | "\(.status): \(.detail)"' <<<"$report")"
    case "$why" in
        unreadable:*SupplementaryGroups*) ok "broker found; its log is reported unreadable: ${why:0:160}" ;;
        *) fail "the report does not show the broker's GC log as unreadable (got '$why')" ;;
    esac
    # Nor its counters (hsperfdata, mode 0600 kafka): a state with the remedy,
    # said once in the journal.
    counters="$(jq -r --argjson pid "$broker_pid" \
        '.jvms[] | select(.pid == $pid) | .counters | "\(.state): \(.reason) | \(.remedy)"' <<<"$report")"
    case "$counters" in
        "permission_denied: /tmp/hsperfdata_kafka/$broker_pid: permission denied | "*read-jvm-counters.conf*)
            ok "its counters: ${counters:0:160}" ;;
        *) fail "the report does not show the broker's counters as permission denied with the remedy (got '$counters')" ;;
    esac
    told="$(in_ct journalctl -u tunekeeper-agent --no-pager -o cat | grep -c "(pid $broker_pid) are not read: .*permission denied" || true)"
    [ "$told" = 1 ] || fail "the journal says the counters are not read $told times, want once"
fi

step "collector on the container's loopback; agent: endpoint, token, SupplementaryGroups=kafka drop-in"
port=18080
in_ct sh -c 'umask 077; echo check-token-1 >/etc/tunekeeper/collector-tokens
install -m 0640 -g tunekeeper /dev/null /etc/tunekeeper/token; echo check-token-1 >/etc/tunekeeper/token'
# --keep-raw-days: the checks below count every delivered report in the
# listing, which otherwise holds only the latest and each change.
in_ct systemd-run --quiet --unit=tk-collector -p StateDirectory=tk-collector \
    /usr/bin/tunekeeper collector --listen "127.0.0.1:$port" --db /var/lib/tk-collector/collector.db \
    --token-file /etc/tunekeeper/collector-tokens --keep-raw-days 1
collector_up() { in_ct_net curl -sf "http://127.0.0.1:$port/api/v1/hosts"; }
wait_for 30 "the collector answering on 127.0.0.1:$port" collector_up
cat >>"$root/etc/tunekeeper/agent.toml" <<EOF
# added by container-check.sh
endpoint = "http://127.0.0.1:$port/api/v1/reports"
token_file = "/etc/tunekeeper/token"
interval = "2s"
EOF
if [ -n "$broker_pid" ]; then
    # The README's drop-in, as `systemctl edit tunekeeper-agent` writes it.
    mkdir -p "$root/etc/systemd/system/tunekeeper-agent.service.d"
    printf '[Service]\nSupplementaryGroups=kafka\n' >"$root/etc/systemd/system/tunekeeper-agent.service.d/override.conf"
fi
in_ct systemctl daemon-reload
in_ct systemctl restart tunekeeper-agent
wait_for 30 "tunekeeper-agent.service active after the restart" agent_active
agent_pid2="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
[ "$agent_pid2" != "$agent_pid" ] || fail "the agent was not restarted"
if [ -n "$broker_pid" ]; then
    kafka_gid="$(in_ct getent group kafka | cut -d: -f3)"
    groups="$(in_ct cat "/proc/$agent_pid2/status" | awk '/^Groups:/ {$1=""; print}')"
    grep -qw "$kafka_gid" <<<"$groups" || fail "the agent's groups ($groups) lack kafka ($kafka_gid)"
    ok "agent pid $agent_pid2 has the supplementary group kafka ($kafka_gid)"
fi

reports_json() { in_ct_net curl -sf "http://127.0.0.1:$port/api/v1/hosts/$hostname/reports?limit=1000"; }
stored_count() { reports_json | jq 'length'; }
spool_empty() { ! has_report; }
delivered_with_gc() {
    local n
    if [ -n "$broker_pid" ]; then
        n="$(reports_json | jq --argjson pid "$broker_pid" \
            '[.[] | .jvms[]? | select(.pid == $pid and .gc != null and .gc.total.overall.count > 0)] | length')"
    else
        n="$(stored_count)"
    fi
    [ "${n:-0}" -gt 0 ]
}
wait_for 60 "a report at the collector (with the broker's GC pauses)" delivered_with_gc
wait_for 30 "the spool to drain" spool_empty
n1="$(stored_count)"
if [ -n "$broker_pid" ]; then
    pauses="$(reports_json | jq --argjson pid "$broker_pid" \
        '[.[] | .jvms[]? | select(.pid == $pid and .gc != null) | .gc.total.overall.count] | max')"
    # One line per finished pause ends in its duration: "Pause Young ... 1.234ms".
    lines="$(grep -cE '\] GC\([0-9]+\) Pause .*[0-9]ms$' "$root/var/log/kafka/kafkaServer-gc.log" || true)"
    [ "$pauses" = "$lines" ] || fail "the agent counted $pauses pauses, the GC log has $lines"
    ok "delivered: $n1 reports stored; the broker's GC: $pauses pauses, as many as its log holds"
else
    ok "delivered: $n1 reports stored"
fi
backlog_ids="$(reports_json | jq -r '.[].id' | sort | uniq -d)"
[ -z "$backlog_ids" ] || fail "the collector holds duplicate report ids: $backlog_ids"

step "systemctl restart with the shipped read-jvm-counters.conf drop-in instead of SupplementaryGroups=kafka"
dropin=/usr/share/tunekeeper/systemd/read-jvm-counters.conf
[ -f "$root$dropin" ] || fail "the .deb did not install $dropin"
if [ -n "$broker_pid" ]; then
    rm "$root/etc/systemd/system/tunekeeper-agent.service.d/override.conf"
    in_ct install -D -m 0644 "$dropin" /etc/systemd/system/tunekeeper-agent.service.d/read-jvm-counters.conf
    in_ct systemctl daemon-reload
fi
in_ct systemctl restart tunekeeper-agent
wait_for 30 "tunekeeper-agent.service active after the second restart" agent_active
agent_pid3="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
[ "$agent_pid3" != "$agent_pid2" ] || fail "the agent was not restarted"
if [ -n "$broker_pid" ]; then
    caps="$(in_ct cat "/proc/$agent_pid3/status" | awk '/^CapEff:/ {print $2}')"
    # CAP_DAC_READ_SEARCH is capability 2: the bit 0x4, and nothing else.
    [ "$caps" = 0000000000000004 ] || fail "with the drop-in the agent has capabilities $caps, want 0000000000000004"
    verified() {
        # Only this agent reads them (the earlier ones were denied).
        [ "$(reports_json | jq -r --argjson pid "$broker_pid" \
            '[.[] | .jvms[]? | select(.pid == $pid and .counters.state == "read" and .gc != null)
              | .counters.cross_check.summary] | any(. == "verified against the JVM'"'"'s counters")')" = true ]
    }
    wait_for 60 "the broker's log verified against its counters (read with CAP_DAC_READ_SEARCH, no group)" verified
    ok "agent pid $agent_pid3 has CAP_DAC_READ_SEARCH only: the broker's counters are read and its log is verified against them"
fi
more_reports() { [ "$(stored_count)" -ge $((n1 + 2)) ]; }
wait_for 30 "new reports at the collector after the restart" more_reports
[ "$(in_ct systemctl show -p NRestarts --value tunekeeper-agent)" = 0 ] ||
    fail "systemd restarted the agent after a failure"
ok "agent pid $agent_pid3 delivers again ($(stored_count) reports stored)"
if [ -n "$broker_pid" ]; then
    # The roles it expects, kept for its next start in its state directory
    # (the unit's StateDirectory=), written by the unprivileged agent.
    roles_file="$root/var/lib/tunekeeper/agent/roles.json"
    [ -f "$roles_file" ] || fail "the agent did not keep the roles it expects in /var/lib/tunekeeper/agent/roles.json"
    # Numeric: the host's name for the container's uid may differ.
    roles_stat="$(stat -c '%u %a' "$roles_file")"
    tk_uid="$(in_ct id -u tunekeeper)"
    [ "$roles_stat" = "$tk_uid 600" ] || fail "roles.json is '$roles_stat', want '$tk_uid 600' (tunekeeper, 0600)"
    jq -e '.version == 1 and any(.roles[]; .role == "broker" and .missing_since == null)' "$roles_file" >/dev/null ||
        fail "roles.json does not list the running broker: $(head -c 600 "$roles_file" | tr -cd '[:print:]\n')"
    ok "the agent keeps the roles it expects across restarts: roles.json (tunekeeper, 0600) lists the running broker"
fi

step "dpkg -i over itself (an upgrade): postinst restarts the running agent, keeps it enabled"
in_ct dpkg -i /root/tunekeeper.deb >"$tmp/dpkg-u.log" 2>&1 || {
    cat "$tmp/dpkg-u.log"
    fail "dpkg -i over the installed package failed"
}
wait_for 30 "tunekeeper-agent.service active after the upgrade" agent_active
agent_pid4="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
[ "$agent_pid4" != "$agent_pid3" ] || fail "the upgrade did not restart the agent (restart-after-upgrade)"
[ "$(in_ct systemctl is-enabled tunekeeper-agent)" = enabled ] || fail "the agent is not enabled after the upgrade"
[ "$(in_ct systemctl is-enabled tunekeeper-apply)" = disabled ] || fail "the upgrade enabled tunekeeper-apply"
ok "upgrade: agent restarted (pid $agent_pid3 -> $agent_pid4), still enabled; apply still disabled"

step "watchdog: an agent stopped with SIGSTOP is killed and restarted by systemd, and its journal says so"
# The packaged WatchdogSec= (60s) shortened by a drop-in to 5s: shorter than
# one legitimate pass of the agent's loop (gc_poll 250ms + timeout 10s +
# 15s), so the agent must ask systemd for 25.25s (WATCHDOG_USEC=) and say so.
[ "$(in_ct systemctl show -p WatchdogUSec --value tunekeeper-agent)" = 1min ] ||
    fail "the packaged unit's WatchdogSec is not 60s"
[ "$(in_ct systemctl show -p Type --value tunekeeper-agent)" = notify ] || fail "the agent unit is not Type=notify"
wd_dropin="$root/etc/systemd/system/tunekeeper-agent.service.d/watchdog-check.conf"
mkdir -p "$(dirname "$wd_dropin")"
printf '[Service]\nWatchdogSec=5s\n' >"$wd_dropin"
in_ct systemctl daemon-reload
wd_since="$(in_ct date '+%Y-%m-%d %H:%M:%S')"
# `restart` returns once the agent said READY=1 (Type=notify).
in_ct systemctl restart tunekeeper-agent
wd_pid="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
[ "$wd_pid" -gt 0 ] || fail "no agent after the restart with the watchdog drop-in"
agent_journal() { in_ct journalctl -u tunekeeper-agent --since "$wd_since" --no-pager -o cat; }
raised() { agent_journal | grep -q 'asking systemd for more'; }
wait_for 30 "the agent's journal line raising the 5s watchdog" raised
# systemd moves WatchdogTimestamp at every WATCHDOG=1: the loop pings.
wd_ts() { in_ct systemctl show -p WatchdogTimestampMonotonic --value tunekeeper-agent; }
wd_ts0="$(wd_ts)"
pinged() { [ "$(wd_ts)" != "$wd_ts0" ]; }
wait_for 30 "a WATCHDOG=1 ping from the agent (WatchdogTimestamp moving)" pinged
# Not a wait for an event but the proof of its absence: 8s, past the
# drop-in's 5s, the agent still runs as the same PID (the raise held).
sleep 8
[ "$(in_ct systemctl show -p MainPID --value tunekeeper-agent)" = "$wd_pid" ] ||
    fail "the agent was restarted while its loop ran (the raised watchdog was not honoured)"
# The shell's own kill: the minimal tree has no procps.
in_ct sh -c "kill -s STOP $wd_pid"
stopped_at=$SECONDS
restarted() {
    local pid
    pid="$(in_ct systemctl show -p MainPID --value tunekeeper-agent)"
    [ "$pid" -gt 0 ] && [ "$pid" != "$wd_pid" ] && agent_active
}
wait_for 120 "systemd to kill the stopped agent and start a new one" restarted
took=$((SECONDS - stopped_at))
agent_journal >"$tmp/watchdog.journal"
grep -E 'Watchdog timeout|watchdog|Scheduled restart' "$tmp/watchdog.journal" || true
# systemd 252 writes the raised limit as "25.250000s".
grep -qE 'Watchdog timeout \(limit 25\.250000s\)' "$tmp/watchdog.journal" ||
    fail "the journal has no 'Watchdog timeout (limit 25.250000s)' line (the raised limit)"
grep -q "Failed with result 'watchdog'" "$tmp/watchdog.journal" || fail "the journal does not say the agent failed by the watchdog"
grep -q 'Scheduled restart job' "$tmp/watchdog.journal" || fail "the journal does not show the restart"
[ "$(in_ct systemctl show -p NRestarts --value tunekeeper-agent)" = 1 ] || fail "NRestarts is not 1 after the watchdog restart"
ok "SIGSTOP'd agent pid $wd_pid killed by the watchdog and restarted as pid $(in_ct systemctl show -p MainPID --value tunekeeper-agent) after ${took}s; journal: Watchdog timeout, result 'watchdog', restart scheduled"
rm "$wd_dropin"
in_ct systemctl daemon-reload
in_ct systemctl restart tunekeeper-agent
wait_for 30 "tunekeeper-agent.service active without the watchdog drop-in" agent_active

step "systemctl stop: a clean exit"
t0=$SECONDS
in_ct systemctl stop tunekeeper-agent
took=$((SECONDS - t0))
result="$(in_ct systemctl show -p Result --value tunekeeper-agent)"
code="$(in_ct systemctl show -p ExecMainCode --value tunekeeper-agent)"
exit_status="$(in_ct systemctl show -p ExecMainStatus --value tunekeeper-agent)"
# ExecMainCode 1 is CLD_EXITED: the agent exited by itself (not killed).
[ "$result/$code/$exit_status" = success/1/0 ] ||
    fail "stop: Result=$result ExecMainCode=$code ExecMainStatus=$exit_status"
[ "$took" -lt 15 ] || fail "stop took ${took}s"
in_ct journalctl -u tunekeeper-agent --no-pager -o cat >"$tmp/agent.journal"
if grep -E 'panicked|RUST_BACKTRACE' "$tmp/agent.journal"; then fail "the agent's journal shows a panic"; fi
ok "stopped in ${took}s: exit status 0; journal ($(wc -l <"$tmp/agent.journal") lines) without a panic"

step "the tmpfiles.d entry makes the agent's state directory (systemd < 235 has no StateDirectory=)"
[ -f "$root/usr/lib/tmpfiles.d/tunekeeper-agent.conf" ] || fail "the .deb did not install usr/lib/tmpfiles.d/tunekeeper-agent.conf"
# As at boot (systemd-tmpfiles-setup.service): with the directory gone, a
# plain `systemd-tmpfiles --create` brings it back, owned by the agent.
mv "$root/var/lib/tunekeeper/agent" "$tmp/agent-state"
in_ct systemd-tmpfiles --create >"$tmp/tmpfiles.log" 2>&1 || true
grep -i tunekeeper "$tmp/tmpfiles.log" && fail "systemd-tmpfiles complains about tunekeeper's entry"
made="$(stat -c '%U:%G %a' "$root/var/lib/tunekeeper/agent" 2>/dev/null)" || fail "systemd-tmpfiles --create did not make /var/lib/tunekeeper/agent"
top="$(stat -c '%U:%G %a' "$root/var/lib/tunekeeper")"
rmdir "$root/var/lib/tunekeeper/agent"
mv "$tmp/agent-state" "$root/var/lib/tunekeeper/agent"
# Owner names as the host sees the container's ids.
want_agent="$(stat -c '%U:%G' "$root/var/lib/tunekeeper/agent") 750"
[ "$made" = "$want_agent" ] || fail "tmpfiles made /var/lib/tunekeeper/agent as '$made', want '$want_agent' (tunekeeper, 0750)"
[ "$top" = "root:root 755" ] || fail "/var/lib/tunekeeper is '$top', want root:root 755"
ok "systemd-tmpfiles --create makes /var/lib/tunekeeper/agent (tunekeeper, 0750) under root's /var/lib/tunekeeper (0755)"

step "tunekeeper-apply on a read-only /proc/sys: fails cleanly"
grep -qE ' /proc/sys (ro|[^ ]*,ro)[, ]' <(in_ct cat /proc/self/mountinfo) || fail "/proc/sys is not read-only in the container"
# nspawn leaves the container's own network namespace writable
# (/proc/sys/net): apply may write those keys before it reaches a read-only
# one, and must then put them back.
net_sysctls() { in_ct sh -c 'grep -r . /proc/sys/net/core /proc/sys/net/ipv4 2>/dev/null | sort'; }
net_sysctls >"$tmp/net-before"
in_ct systemctl start tunekeeper-apply >/dev/null 2>&1 && fail "tunekeeper-apply succeeded on a read-only /proc/sys"
net_sysctls >"$tmp/net-after"
diff -u "$tmp/net-before" "$tmp/net-after" || fail "tunekeeper-apply left /proc/sys/net changed"
result="$(in_ct systemctl show -p Result --value tunekeeper-apply)"
exit_status="$(in_ct systemctl show -p ExecMainStatus --value tunekeeper-apply)"
in_ct journalctl -u tunekeeper-apply --no-pager -o cat >"$tmp/apply.journal"
sed -n '1,12p' "$tmp/apply.journal"
[ "$result" = exit-code ] || fail "tunekeeper-apply: Result=$result, want exit-code"
# 101 is a Rust panic; a clean failure is a small status of our own.
case "$exit_status" in 1 | 2 | 3) ;; *) fail "tunekeeper-apply exit status $exit_status" ;; esac
if grep -E 'panicked|RUST_BACKTRACE' "$tmp/apply.journal"; then fail "tunekeeper-apply panicked"; fi
grep -qi 'read-only' "$tmp/apply.journal" || fail "tunekeeper-apply's error does not say the file system is read-only"
ok "tunekeeper-apply: exit status $exit_status, says read-only, no panic, $(grep -c rolledback "$tmp/apply.journal" || true) written key(s) restored"

step "dpkg -r: stopped, disabled, config kept"
in_ct systemctl stop tk-collector
in_ct systemctl start tunekeeper-agent
wait_for 30 "the agent running before remove" agent_active
in_ct dpkg -r tunekeeper >"$tmp/dpkg-r.log" 2>&1 || {
    cat "$tmp/dpkg-r.log"
    fail "dpkg -r failed"
}
running_as_tk() { in_ct sh -c "for s in /proc/[0-9]*/status; do awk '/^Uid:/ {print \$3}' \$s 2>/dev/null; done" | grep -qx "$tk_uid"; }
if running_as_tk; then fail "a process of tunekeeper still runs after remove"; fi
[ ! -e "$root/usr/bin/tunekeeper" ] || fail "/usr/bin/tunekeeper left after remove"
[ ! -e "$root/usr/lib/systemd/system/tunekeeper-agent.service" ] || fail "the agent unit left after remove"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service" ] ||
    fail "the agent is still enabled after remove"
[ -e "$root/etc/tunekeeper/agent.toml" ] || fail "remove deleted agent.toml (only purge may)"
ok "removed: no agent process, unit gone, agent.toml kept"

step "dpkg -P: config and state gone; the user and the administrator's own files stay"
in_ct dpkg -P tunekeeper >"$tmp/dpkg-p.log" 2>&1 || {
    cat "$tmp/dpkg-p.log"
    fail "dpkg -P failed"
}
for p in /etc/tunekeeper/agent.toml /etc/default/tunekeeper /var/lib/tunekeeper /usr/share/tunekeeper \
    /usr/share/doc/tunekeeper /etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service \
    /var/lib/systemd/deb-systemd-helper-enabled/tunekeeper-agent.service.dsh-also; do
    [ ! -e "$root$p" ] || fail "$p left after purge"
done
in_ct getent passwd tunekeeper >/dev/null || fail "purge removed the user tunekeeper (README: it stays)"
[ -e "$root/etc/tunekeeper/token" ] || fail "purge removed the administrator's token file"
if [ -n "$broker_pid" ]; then
    [ -e "$root/etc/systemd/system/tunekeeper-agent.service.d/read-jvm-counters.conf" ] ||
        fail "purge removed the administrator's drop-in"
fi
ok "purged: agent.toml, /etc/default/tunekeeper, /var/lib/tunekeeper gone; user tunekeeper, the token file and the drop-in stay"

step "shut the container down"
kill -TERM "$nspawn_pid"
wait_for 60 "the container to power off" bash -c "! kill -0 $nspawn_pid"
nspawn_pid=""
ok "powered off"

step "rpm --root: scriptlets in an unpacked copy of the same tree"
rroot="$tmp/rpmroot"
mkdir -p "$rroot"
tar -C "$rroot" -xf "$tarball"
# Debian's rpm refuses to install into Debian's own database unless told
# --force-debian; the target here is a separate root with its own database.
rpm_opts=(--root "$rroot" --nodeps)
rpm --help 2>&1 | grep -q -- '--force-debian' && rpm_opts+=(--force-debian)
rpm --root "$rroot" --initdb
mount -t proc proc "$rroot/proc"
# The tree's directories before: after `rpm -e` only what README says stays
# may be new (no empty directory left behind).
dirs_in() { (cd "$rroot" && find . -xdev -type d ! -path './var/lib/rpm*' ! -path './proc*' | sort); }
dirs_in >"$tmp/dirs-before"
rpm "${rpm_opts[@]}" -i "$rpmfile" >"$tmp/rpm-i.log" 2>&1 || {
    cat "$tmp/rpm-i.log"
    fail "rpm -i into $rroot failed"
}
grep -q '^tunekeeper:' "$rroot/etc/passwd" || fail "%pre did not create the user tunekeeper"
rpm_uid="$(awk -F: '$1 == "tunekeeper" {print $3}' "$rroot/etc/passwd")"
if [ "$rpm_uid" -ge 1000 ] || [ "$rpm_uid" -eq 0 ]; then fail "tunekeeper has uid $rpm_uid: not a system user"; fi
[ -L "$rroot/etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service" ] ||
    fail "%post did not enable tunekeeper-agent.service (preset)"
[ ! -e "$rroot/etc/systemd/system/multi-user.target.wants/tunekeeper-apply.service" ] ||
    fail "%post enabled tunekeeper-apply.service"
# No systemd runs in this root: only %post's systemd-tmpfiles can have made it.
rpm_state="$(stat -c '%u %a' "$rroot/var/lib/tunekeeper/agent" 2>/dev/null)" ||
    fail "%post did not create /var/lib/tunekeeper/agent (tmpfiles.d)"
[ "$rpm_state" = "$rpm_uid 750" ] || fail "/var/lib/tunekeeper/agent after rpm -i is '$rpm_state', want '$rpm_uid 750'"
[ -f "$rroot/usr/lib/tmpfiles.d/tunekeeper-agent.conf" ] || fail "the .rpm did not install its tmpfiles.d entry"
ok "rpm -i: user tunekeeper (uid $rpm_uid), agent enabled by the preset, apply not; %post made /var/lib/tunekeeper/agent (0750, tunekeeper)"

echo '# edited by container-check.sh' >>"$rroot/etc/tunekeeper/agent.toml"
rpm "${rpm_opts[@]}" -U "$rpmnext" >"$tmp/rpm-u.log" 2>&1 || {
    cat "$tmp/rpm-u.log"
    fail "rpm -U to the next release failed"
}
grep -q '^# edited by container-check.sh' "$rroot/etc/tunekeeper/agent.toml" || fail "upgrade lost the edited agent.toml"
[ "$(rpm --root "$rroot" -q --qf '%{RELEASE}' tunekeeper)" = "$(rpm -qp --qf '%{RELEASE}' "$rpmnext" 2>/dev/null)" ] ||
    fail "the upgrade did not install the next release"
[ -L "$rroot/etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service" ] ||
    fail "the upgrade disabled tunekeeper-agent.service"
ok "rpm -U: edited agent.toml kept, agent still enabled"

rpm "${rpm_opts[@]}" -e tunekeeper >"$tmp/rpm-e.log" 2>&1 || {
    cat "$tmp/rpm-e.log"
    fail "rpm -e failed"
}
[ ! -e "$rroot/usr/bin/tunekeeper" ] || fail "/usr/bin/tunekeeper left after erase"
[ ! -e "$rroot/etc/systemd/system/multi-user.target.wants/tunekeeper-agent.service" ] ||
    fail "%preun did not disable tunekeeper-agent.service"
grep -q '^tunekeeper:' "$rroot/etc/passwd" || fail "erase removed the user (README: it stays)"
[ -e "$rroot/etc/tunekeeper/agent.toml.rpmsave" ] || fail "erase did not keep the edited agent.toml as .rpmsave"
# New directories left: the state (README: RPM has no purge) and the one
# holding agent.toml.rpmsave; nothing else, and nothing else in them.
dirs_in | comm -13 "$tmp/dirs-before" - >"$tmp/dirs-left"
printf '%s\n' ./etc/tunekeeper ./var/lib/tunekeeper ./var/lib/tunekeeper/agent >"$tmp/dirs-expected"
diff -u "$tmp/dirs-expected" "$tmp/dirs-left" || fail "rpm -e left directories behind (+ lines)"
[ "$(ls -A "$rroot/etc/tunekeeper")" = agent.toml.rpmsave ] || fail "/etc/tunekeeper holds more than agent.toml.rpmsave: $(ls -A "$rroot/etc/tunekeeper")"
umount "$rroot/proc"
ok "rpm -e: binary gone, agent disabled, user kept, edited agent.toml saved as agent.toml.rpmsave; no other directory left"

step "an older glibc: the packaged binary runs on Debian 11 (glibc 2.31)"
ensure_tarball "$old_tarball" "$old_suite" --variant=essential
oroot="$tmp/oldroot"
mkdir -p "$oroot"
tar -C "$oroot" -xf "$old_tarball"
dpkg-deb -x "$deb" "$oroot"
mount -t proc proc "$oroot/proc"
old_glibc="$(chroot "$oroot" ldd --version | sed -n '1s/.* //p')"
chroot "$oroot" /usr/bin/tunekeeper --version >/dev/null || fail "the binary does not run on glibc $old_glibc"
chroot "$oroot" /usr/bin/tunekeeper profiles list >/dev/null || fail "profiles list fails on glibc $old_glibc"
rc=0
chroot "$oroot" /usr/bin/tunekeeper audit >"$tmp/old-audit" 2>&1 || rc=$?
[ "$rc" -le 1 ] || {
    cat "$tmp/old-audit"
    fail "audit exited $rc on glibc $old_glibc"
}
umount "$oroot/proc"
ok "$old_suite (glibc $old_glibc): --version, profiles list, audit (exit $rc) run"
