# %post ($1: 1 install, 2 upgrade): reload units and create the agent's state
# directory (tmpfiles.d); on first install apply the preset (packaged policy:
# agent enabled, apply disabled; an administrator's preset wins) and start the
# agent when it ended up enabled.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# The agent's state directory from the tmpfiles.d entry (systemd < 235 knows
# no StateDirectory=), on install and upgrade, before the agent may start.
# Works without a running systemd (an image build, rpm --root).
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/tunekeeper-agent.conf >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset tunekeeper-agent.service tunekeeper-apply.service >/dev/null 2>&1 || :
    if [ -d /run/systemd/system ] && systemctl --quiet is-enabled tunekeeper-agent.service 2>/dev/null; then
        systemctl start tunekeeper-agent.service >/dev/null 2>&1 || :
    fi
fi
exit 0
