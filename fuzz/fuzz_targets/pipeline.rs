//! Grammar-aware: the input bytes choose a space (a small random grammar, or a large or
//! deep shape), and every stage of the pipeline runs on it.
#![no_main]

use hnas_space_fuzz::{check_pipeline, generate};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(text) = generate(&mut u) {
        check_pipeline(&text, data.len() as u64);
    }
});
