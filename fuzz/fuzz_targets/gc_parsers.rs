//! Feeds arbitrary bytes, split into lines, to the G1 log parsers and checks
//! that they never panic and never emit nonsense (non-finite or negative
//! durations, impossible heaps).
//!
//! Run (nightly), seeding from the test fixtures:
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run gc_parsers corpus/gc_parsers \
//!     ../tests/fixtures/gc/jdk8/exact ../tests/fixtures/gc/jdk8/corrupted ../tests/fixtures/gc/public/unified \
//!     -- -max_total_time=300
//! ```

#![no_main]

use libfuzzer_sys::fuzz_target;
use tunekeeper::gc::event::GcEvent;
use tunekeeper::gc::jdk8::Jdk8Parser;
use tunekeeper::gc::parser::LineParser;
use tunekeeper::gc::unified::UnifiedParser;

/// The invariants every emitted event must hold, whatever the input.
fn check(event: GcEvent) {
    match event {
        GcEvent::Pause(p) => {
            assert!(p.duration_ms.is_finite() && p.duration_ms >= 0.0, "{p:?}");
            assert!(!p.cause.is_empty(), "{p:?}");
            if let Some(u) = p.at.uptime_ms {
                assert!(u.is_finite() && u >= 0.0, "{p:?}");
            }
        }
        GcEvent::Concurrent(c) => {
            assert!(c.duration_ms.is_finite() && c.duration_ms >= 0.0, "{c:?}");
        }
        GcEvent::HumongousAllocation { at } => {
            if let Some(u) = at.uptime_ms {
                assert!(u.is_finite() && u >= 0.0, "{at:?}");
            }
        }
        GcEvent::PauseCpu(c) => {
            for v in [c.user_ms, c.sys_ms, c.real_ms] {
                assert!(v.is_finite() && v >= 0.0, "{c:?}");
            }
        }
        GcEvent::Safepoint(s) => {
            assert!(s.reaching_ms.is_finite() && s.reaching_ms >= 0.0, "{s:?}");
            assert!(s.total_ms.is_finite() && s.total_ms >= 0.0, "{s:?}");
        }
        GcEvent::JvmStart(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut jdk8 = Jdk8Parser::new();
    let mut unified = UnifiedParser::new();
    for line in data.split(|&b| b == b'\n') {
        jdk8.feed(line, &mut check);
        unified.feed(line, &mut check);
    }
    jdk8.finish(&mut check);
    unified.finish(&mut check);
});
