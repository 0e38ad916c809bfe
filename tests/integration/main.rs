//! Every integration test of tunekeeper, in one test binary (as ripgrep and
//! bottom gather theirs): the suite links once, and a failing test no longer
//! stops `cargo test` before the other tests have run, since cargo stops at
//! the first failing *binary*. Run one area with
//! `cargo test --test integration collector_pg::` (a module prefix) or one
//! test by its full name.
//!
//! All tests share one process, so nothing here may change process-wide
//! state (environment variables, the current directory, signal handlers);
//! tests that share a machine-wide resource (the real /proc/sys, loop
//! mounts, the CPU for a timing) take the lock of their module or of
//! [`kernel_support`]. A test that starts JVMs or brokers finds them by PID
//! or path, never by pattern, since the other tests' JVMs run beside it.

// Shared support, declared once. `collector_support` first: its `on_both!`
// macro is then in scope in every module below.
#[macro_use]
mod collector_support;
mod broker_tree;
mod browser_support;
mod ci_skip;
mod hotspot;
mod kernel_support;
mod loop_mounts;
mod priority;
mod proc_view;
mod role_jvms;
mod stalling_fs;
mod support;
mod under_test;
mod wait;

// The tests, one module per former test binary (names keep their prefix:
// `collector_pg::rows_survive` was `collector_pg`'s `rows_survive`).
mod agent_counters;
mod agent_e2e;
mod agent_journal;
mod agent_pressure;
mod agent_rotation;
mod audit_junit;
mod broker_fake;
mod broker_layout;
mod collector;
mod collector_alerts;
mod collector_broker_stop;
mod collector_clusters;
mod collector_clusters_page;
mod collector_compact;
mod collector_counted_gc;
mod collector_counters;
mod collector_fleet;
mod collector_fleet_clusters;
mod collector_page;
mod collector_pg;
mod collector_pg_tls;
mod collector_roles;
mod collector_tls;
mod collector_trend_scale;
mod collector_waived;
mod gc_cli;
mod gc_html;
mod gc_input;
mod gc_jdk8;
mod gc_pauses;
mod gc_public_classes;
mod gc_robust;
mod gc_stall_jvm;
mod gc_truth;
mod host_pressure;
mod hostile_agent;
mod hostile_apply;
mod hostile_collector;
mod hostile_collector_bounds;
mod hostile_files;
mod hostile_host;
mod hostile_procs;
mod hostile_text;
mod kernel;
mod layout;
mod packaging;
mod packaging_alerts;
mod perfdata_files;
mod perfdata_jvm;
mod roles_budget;
mod roles_collector;
mod roles_host;
mod roles_restart;
mod waivers;
