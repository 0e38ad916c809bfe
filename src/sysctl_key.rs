//! Sysctl key names: `vm.swappiness` and `vm/swappiness` name the same file,
//! `/proc/sys/vm/swappiness`. Following systemd-sysctl, the first separator
//! decides the form, so `net/ipv4/conf/eth0.100/rp_filter` keeps its dot.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Why a string is not a usable sysctl key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Empty string.
    #[error("the key is empty")]
    Empty,
    /// Starts with a separator: an absolute path.
    #[error("`{0}` is an absolute path; name the key relative to /proc/sys (e.g. vm.swappiness)")]
    Absolute(String),
    /// Has an empty component (`vm..swappiness`, trailing dot).
    #[error("`{0}` has an empty part")]
    EmptyPart(String),
    /// Has a `.` or `..` component, which could leave /proc/sys.
    #[error("`{0}` has a `.` or `..` part that would leave /proc/sys")]
    Traversal(String),
    /// Contains whitespace, a NUL or another character no sysctl has.
    #[error("`{0}` contains a character no sysctl name has")]
    BadChar(String),
    /// Has no separator at all: every sysctl lives in a directory.
    #[error("`{0}` is not a sysctl name (expected a dotted name such as vm.swappiness)")]
    NoSeparator(String),
}

/// A validated sysctl key, stored as its path below `/proc/sys`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SysctlKey {
    /// Path components, e.g. `["net", "ipv4", "conf", "eth0.100", "rp_filter"]`.
    parts: Vec<String>,
}

impl SysctlKey {
    /// Parses a dotted or slashed key name.
    pub fn parse(name: &str) -> Result<SysctlKey, KeyError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(KeyError::Empty);
        }
        if name.starts_with('/') {
            return Err(KeyError::Absolute(name.to_string()));
        }
        // `../x` and `./x` are relative paths that walk the tree, not absolute
        // ones; say what they are. A lone leading dot is an empty first part.
        if name == "." || name == ".." || name.starts_with("./") || name.starts_with("../") {
            return Err(KeyError::Traversal(name.to_string()));
        }
        if name.starts_with('.') {
            return Err(KeyError::EmptyPart(name.to_string()));
        }
        if name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '=' | '\\' | '*' | '?' | '[')
        }) {
            return Err(KeyError::BadChar(name.to_string()));
        }
        let slash_form = match name.find(['.', '/']) {
            Some(i) => name.as_bytes()[i] == b'/',
            None => return Err(KeyError::NoSeparator(name.to_string())),
        };
        let sep = if slash_form { '/' } else { '.' };
        let mut parts = Vec::new();
        for part in name.split(sep) {
            if part.is_empty() {
                return Err(KeyError::EmptyPart(name.to_string()));
            }
            // In dotted form a part may hold a '/' (an interface name written
            // with slashes); that would be a path separator on disk, and in
            // slashed form a part of "." or ".." walks the tree.
            let part = if slash_form {
                part.to_string()
            } else {
                part.replace('/', ".")
            };
            if part == "." || part == ".." {
                return Err(KeyError::Traversal(name.to_string()));
            }
            parts.push(part);
        }
        Ok(SysctlKey { parts })
    }

    /// A key from path components as found under /proc/sys (a part may hold
    /// a dot, as interface names do).
    pub fn from_parts(parts: Vec<String>) -> Result<SysctlKey, KeyError> {
        let shown = parts.join("/");
        if parts.len() < 2 {
            return Err(KeyError::NoSeparator(shown));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(KeyError::EmptyPart(shown));
        }
        if parts
            .iter()
            .any(|p| p == "." || p == ".." || p.contains('/'))
        {
            return Err(KeyError::Traversal(shown));
        }
        Ok(SysctlKey { parts })
    }

    /// The path relative to `/proc/sys`.
    pub fn rel_path(&self) -> PathBuf {
        self.parts.iter().collect()
    }

    /// The path components.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }
}

impl fmt::Display for SysctlKey {
    /// Dotted form, the way `sysctl` prints it: dots inside a part become slashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&part.replace('.', "/"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_slashed_forms_are_the_same_key() {
        let a = SysctlKey::parse("vm.swappiness").unwrap();
        let b = SysctlKey::parse("vm/swappiness").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.rel_path(), PathBuf::from("vm/swappiness"));
        assert_eq!(a.to_string(), "vm.swappiness");
    }

    #[test]
    fn first_separator_decides() {
        let k = SysctlKey::parse("net/ipv4/conf/eth0.100/rp_filter").unwrap();
        assert_eq!(
            k.rel_path(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
        assert_eq!(k.to_string(), "net.ipv4.conf.eth0/100.rp_filter");
        let dotted = SysctlKey::parse("net.ipv4.conf.eth0/100.rp_filter").unwrap();
        assert_eq!(dotted, k);
    }

    #[test]
    fn rejects_keys_that_leave_proc_sys() {
        assert_eq!(SysctlKey::parse(""), Err(KeyError::Empty));
        assert!(matches!(
            SysctlKey::parse("/etc/passwd"),
            Err(KeyError::Absolute(_))
        ));
        assert!(matches!(
            SysctlKey::parse("vm/../../etc"),
            Err(KeyError::Traversal(_))
        ));
        assert!(matches!(
            SysctlKey::parse("vm..swappiness"),
            Err(KeyError::EmptyPart(_))
        ));
        assert!(matches!(
            SysctlKey::parse("vm.swappiness."),
            Err(KeyError::EmptyPart(_))
        ));
        assert!(matches!(
            SysctlKey::parse("swappiness"),
            Err(KeyError::NoSeparator(_))
        ));
        assert!(matches!(
            SysctlKey::parse("vm.swap piness"),
            Err(KeyError::BadChar(_))
        ));
        // A relative path is named as one, not as an absolute path.
        let e = SysctlKey::parse("../../etc/passwd").unwrap_err();
        assert_eq!(e, KeyError::Traversal("../../etc/passwd".into()));
        assert!(e.to_string().contains("would leave /proc/sys"), "{e}");
        assert!(matches!(
            SysctlKey::parse(".vm.swappiness"),
            Err(KeyError::EmptyPart(_))
        ));
        // A dotted key can't smuggle ".." through a slash inside a part.
        let k = SysctlKey::parse("net.ipv4.conf.../x").unwrap_err();
        assert!(matches!(k, KeyError::EmptyPart(_)));
    }
}
