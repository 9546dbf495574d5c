//! Any text given to the space parser: no panic, no hang; an accepted space samples,
//! prints and reads back its samples exactly.
#![no_main]

use hnas_space::{SampleMode, Space};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Space::parse("fuzz.hnas", text) {
        Err(d) => {
            assert!(!d.items.is_empty());
            let _ = d.render();
        }
        Ok(space) => {
            let _ = space.size();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(data.len() as u64);
            for mode in [SampleMode::Uniform, SampleMode::Weighted] {
                let c = space.sample(&mut rng, mode);
                assert!(space.is_member(&c), "{:?}", space.validate(&c));
                let line = space.print(&c);
                assert_eq!(space.parse_candidate(&line).expect("printed form reads back"), c);
                let m = space.mutate(&c, &mut rng);
                assert!(space.is_member(&m));
            }
        }
    }
});
