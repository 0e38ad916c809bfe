//! Active swap devices, from /proc/swaps.

use super::{Host, HostError};

/// One active swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    /// Device or file.
    pub name: String,
    /// Size in KiB.
    pub size_kb: u64,
}

impl Host {
    /// The active swap areas (empty when none).
    pub fn swaps(&self) -> Result<Vec<SwapArea>, HostError> {
        let path = self.path("/proc/swaps");
        let text = crate::file_kind::read_text(&path, crate::file_kind::MAX_KERNEL_FILE_BYTES)
            .map_err(|e| HostError::from_io(&path, e))?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut f = line.split_whitespace();
                let name = f.next()?.to_string();
                let size_kb = f.nth(1)?.parse().ok()?;
                Some(SwapArea { name, size_kb })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_swaps() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("proc")).unwrap();
        std::fs::write(
            t.path().join("proc/swaps"),
            "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition\t2097148\t0\t-2\n",
        )
        .unwrap();
        let s = Host::at(t.path()).swaps().unwrap();
        assert_eq!(
            s,
            vec![SwapArea {
                name: "/dev/dm-1".into(),
                size_kb: 2097148
            }]
        );
        std::fs::write(
            t.path().join("proc/swaps"),
            "Filename\tType\tSize\tUsed\tPriority\n",
        )
        .unwrap();
        assert!(Host::at(t.path()).swaps().unwrap().is_empty());
    }
}
