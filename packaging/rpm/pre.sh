# %pre ($1: 1 install, 2 upgrade): create the system user `tunekeeper`
# before the files land, from the same sysusers.d line the package ships.
if command -v systemd-sysusers >/dev/null 2>&1; then
    echo 'u tunekeeper - "tunekeeper agent" /var/lib/tunekeeper /usr/sbin/nologin' |
        systemd-sysusers --replace=/usr/lib/sysusers.d/tunekeeper.conf - || :
fi
if ! getent passwd tunekeeper >/dev/null; then
    getent group tunekeeper >/dev/null || groupadd -r tunekeeper
    useradd -r -g tunekeeper -d /var/lib/tunekeeper -s /sbin/nologin \
        -c "tunekeeper agent" tunekeeper
fi
exit 0
