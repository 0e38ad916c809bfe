# %postun ($1: 0 erase, 1 upgrade): reload units; on upgrade restart the agent
# if it runs (the boot-time apply is not re-run). RPM has no purge: state in
# /var/lib/tunekeeper and the user `tunekeeper` stay after erase.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart tunekeeper-agent.service >/dev/null 2>&1 || :
fi
exit 0
