//! Any text given as a candidate of the example spaces: an error or a member, never a panic;
//! an accepted candidate prints to a form that reads back to itself.
#![no_main]

use hnas_space::Space;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn spaces() -> &'static Vec<Space> {
    static S: OnceLock<Vec<Space>> = OnceLock::new();
    S.get_or_init(|| {
        ["nb201", "darts", "einspace", "agent"]
            .iter()
            .map(|n| {
                let p = format!("{}/../examples/spaces/{n}.hnas", env!("CARGO_MANIFEST_DIR"));
                Space::from_file(std::path::Path::new(&p)).expect("example space")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for space in spaces() {
        if let Ok(c) = space.parse_candidate(text) {
            assert!(space.is_member(&c));
            assert_eq!(space.parse_candidate(&space.print(&c)).unwrap(), c);
        }
    }
});
