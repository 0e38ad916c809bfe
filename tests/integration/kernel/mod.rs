//! Kernel-profile tests: the library against prepared /proc and /sys trees,
//! the built binary's CLI contract, and apply/rollback on the real kernel.

mod cli;
mod fake_root;
mod knobs;
mod real_kernel;
mod roles_enforce;
