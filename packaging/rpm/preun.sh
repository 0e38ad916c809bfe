# %preun ($1: 0 erase, 1 upgrade): on erase stop and disable both units.
# Stopping tunekeeper-apply.service changes nothing on the host (no rollback).
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now tunekeeper-agent.service tunekeeper-apply.service >/dev/null 2>&1 || :
fi
exit 0
