//! Each crate links one integration-test binary, `tests/it/main.rs`: cargo makes a binary of
//! every `.rs` file directly under `tests/` and of every `tests/*/main.rs`, and each links the
//! crate with all it depends on (for the server, several hundred MB per binary in a debug
//! build). New tests are modules of `it`; measurements are `benches/`.

use std::path::Path;

/// The integration-test binaries of a `tests` folder besides `it`.
fn extra_test_binaries(tests: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(tests) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_file() && p.extension().is_some_and(|x| x == "rs") {
            out.push(name);
        } else if p.is_dir() && name != "it" && p.join("main.rs").is_file() {
            out.push(format!("{name}/main.rs"));
        }
    }
    out.sort();
    out
}

/// Second binaries that must stay apart: the engine's allocation-counting tests install a
/// global allocator, which every test sharing their process would feed.
const APART: &[(&str, &str)] = &[("klaxon-engine", "alloc/main.rs")];

#[test]
fn every_crate_has_one_integration_test_binary() {
    let mut found = Vec::new();
    let mut checked = 0;
    for dir in crate::harness::workspace_crates() {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        checked += 1;
        for extra in extra_test_binaries(&dir.join("tests")) {
            if !APART.contains(&(name.as_str(), extra.as_str())) {
                found.push(format!("crates/{name}/tests/{extra}"));
            }
        }
    }
    assert!(checked >= 5, "every crate of the workspace is read");
    assert!(
        found.is_empty(),
        "test binaries besides tests/it (make them modules of tests/it/main.rs): {found:?}"
    );
}

#[test]
fn a_second_test_binary_is_found() {
    let dir = std::env::temp_dir().join(format!("klaxon-layout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["it", "peers", "extra", "common"] {
        std::fs::create_dir_all(dir.join(d)).expect("temp tests");
    }
    let write = |p: &str| std::fs::write(dir.join(p), "").expect("write");
    write("it/main.rs");
    write("it/api.rs");
    write("peers/sink.py");
    write("common/mod.rs");
    assert!(extra_test_binaries(&dir).is_empty());
    write("api.rs");
    write("extra/main.rs");
    assert_eq!(extra_test_binaries(&dir), ["api.rs", "extra/main.rs"]);
    let _ = std::fs::remove_dir_all(&dir);
}
