//! What a path is, in words, for inputs that must be regular files.
//!
//! Reading a FIFO blocks until a writer comes, a character device such as
//! `/dev/zero` never ends: an input that claims to be a file but is not
//! one is refused up front, naming what it is.

use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;

/// The kind of a non-regular file, with its article ("a FIFO (named pipe)").
/// Regular files and directories are named too, for completeness.
pub fn describe(ft: FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_path_is() {
        let kind = |p: &str| describe(std::fs::metadata(p).unwrap().file_type());
        assert_eq!(kind("/dev/null"), "a character device");
        assert_eq!(kind("/"), "a directory");
        assert_eq!(kind("/proc/self/status"), "a regular file");
    }
}
