//! Label matchers (`filter` of the Alertmanager API, `klaxon_engine::matcher`): compiled, and
//! what is read and written back reads back as the same matchers, one by one and as a list.
#![no_main]

use klaxon_engine::matcher::{parse_filter, parse_filter_parts, Written};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_filter(text);
    let Ok(read) = parse_filter_parts(text) else {
        return;
    };
    for m in &read {
        let written = m.to_string();
        assert_eq!(
            parse_filter_parts(&written).as_deref(),
            Ok(std::slice::from_ref(m)),
            "{text:?} written as {written:?}"
        );
    }
    let list: Vec<String> = read.iter().map(Written::to_string).collect();
    let written = format!("{{{}}}", list.join(","));
    assert_eq!(
        parse_filter_parts(&written),
        Ok(read),
        "{text:?} written as {written:?}"
    );
});
