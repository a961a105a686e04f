//! The `redis_conf` target of slotgate-fuzz under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slotgate_fuzz::targets::redis_conf::run(data));
