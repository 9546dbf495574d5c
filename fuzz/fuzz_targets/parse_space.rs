//! Any text given to the space parser: no panic, no hang; an accepted space goes through
//! every stage of the pipeline.
#![no_main]

use hnas_space_fuzz::check_pipeline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check_pipeline(text, data.len() as u64);
});
