//! Network links: the physical interfaces and their speeds, from
//! `/sys/class/net`. Virtual interfaces (loopback, bridges, veth, bonds,
//! VLANs, tunnels) have no `device` link there and are left out: their
//! speed is not a link's.

use crate::report::NetLink;

use super::Host;

/// The physical interfaces, by name, with the link speed the kernel
/// reports. `speed` reads fail (EINVAL) while the link is down and read
/// `-1` when the driver does not know: both are `None`, never a number.
pub fn physical_links(host: &Host) -> Vec<NetLink> {
    let Ok(dir) = std::fs::read_dir(host.path("/sys/class/net")) else {
        return Vec::new();
    };
    let mut out: Vec<NetLink> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let base = format!("/sys/class/net/{name}");
            // `device` exists (a symlink to the bus device) only for hardware.
            std::fs::symlink_metadata(host.path(format!("{base}/device"))).ok()?;
            let speed_mbps = host
                .read_value(format!("{base}/speed"))
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|v| u64::try_from(v).ok())
                .filter(|v| *v > 0);
            Some(NetLink { name, speed_mbps })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_devices_count_and_unknown_speeds_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("sys/class/net");
        let iface = |name: &str, device: bool, speed: Option<&str>| {
            let d = net.join(name);
            std::fs::create_dir_all(&d).unwrap();
            if device {
                std::os::unix::fs::symlink("../../../devices/pci0000:00/x", d.join("device"))
                    .unwrap();
            }
            if let Some(s) = speed {
                std::fs::write(d.join("speed"), format!("{s}\n")).unwrap();
            }
        };
        iface("eth1", true, Some("25000"));
        iface("eth0", true, Some("-1"));
        iface("eth2", true, None);
        iface("lo", false, Some("10"));
        iface("bond0", false, Some("50000"));
        let links = physical_links(&Host::at(dir.path()));
        let got: Vec<(&str, Option<u64>)> = links
            .iter()
            .map(|l| (l.name.as_str(), l.speed_mbps))
            .collect();
        assert_eq!(got, [("eth0", None), ("eth1", Some(25000)), ("eth2", None)]);
    }
}
