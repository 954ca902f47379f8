//! No crate of the workspace has an import cycle between its modules: every crate's
//! `src/**/*.rs` is read, each `crate::a::b` and `super::...` path (outside `#[cfg(test)]`) is
//! an edge to the longest module prefix it names (`mod.rs` stands for its folder), edges to a
//! module's own ancestors are left out (a parent declares its children), and any strongly
//! connected component of more than one module fails the test, named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every module of a `src` folder, with its source up to its first `#[cfg(test)]`.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src").with_extension("");
        let mut m: Module = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if m.last()
            .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
        {
            m.pop();
        }
        let text = std::fs::read_to_string(&f).expect("read source");
        let text = match text.find("#[cfg(test)]") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        out.insert(m, text);
    }
    out
}

/// The paths after `crate::` or `super::` in `text`, with `use` groups expanded one level.
fn paths(text: &str, module: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut segs = base.clone();
            let mut s = rest;
            loop {
                let end = s
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(s.len());
                if end == 0 {
                    break;
                }
                segs.push(s[..end].to_owned());
                s = &s[end..];
                if let Some(t) = s.strip_prefix("::") {
                    s = t;
                } else {
                    break;
                }
            }
            // `use crate::a::{b, c::d}`: each member is a path of its own.
            if let Some(group) = s.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for member in inner.split(',') {
                    let mut p = segs.clone();
                    p.extend(
                        member
                            .trim()
                            .split("::")
                            .map(|x| x.trim().to_owned())
                            .filter(|x| !x.is_empty() && x != "self" && !x.contains(' ')),
                    );
                    out.push(p);
                }
            }
            out.push(segs);
        }
    }
    out
}

/// The module graph: each module to the modules it names (not itself, not its ancestors).
fn graph(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut g = BTreeMap::new();
    for (m, text) in mods {
        let mut to = BTreeSet::new();
        for p in paths(text, m) {
            let target = (1..=p.len())
                .rev()
                .map(|k| p[..k].to_vec())
                .find(|prefix| mods.contains_key(prefix));
            if let Some(t) = target {
                if &t != m && !m.starts_with(&t) {
                    to.insert(t);
                }
            }
        }
        g.insert(m.clone(), to);
    }
    g
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Module) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in &t.g[v] {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".to_owned()
    } else {
        m.join("::")
    }
}

fn cycles_in(src: &Path) -> Vec<String> {
    cycles(&graph(&modules(src)))
        .iter()
        .map(|c| {
            format!(
                "{}: cycle of {} modules: {}",
                src.display(),
                c.len(),
                c.iter().map(name).collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut found = Vec::new();
    let mut checked = 0;
    for dir in crate::harness::workspace_crates() {
        let src = dir.join("src");
        if src.is_dir() {
            checked += 1;
            found.extend(cycles_in(&src));
        }
    }
    assert!(checked >= 5, "every crate of the workspace is read");
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let dir = std::env::temp_dir().join(format!("klaxon-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("temp src");
    let write = |p: &str, t: &str| std::fs::write(dir.join(p), t).expect("write");
    write("lib.rs", "mod clock;\nmod pipeline;\nmod state;\n");
    write("clock.rs", "pub fn wall_ms() -> i64 { 0 }\n");
    write("pipeline/mod.rs", "pub mod driver;\npub mod lifecycle;\n");
    write(
        "pipeline/driver.rs",
        "use crate::clock::wall_ms;\nuse super::lifecycle::Command;\n",
    );
    write(
        "pipeline/lifecycle.rs",
        "use crate::{clock, pipeline::driver::Fired};\n#[cfg(test)]\nuse crate::state::X;\n",
    );
    write("state.rs", "use crate::pipeline::lifecycle::Command;\n");
    let found = cycles_in(&dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with("cycle of 2 modules: pipeline::driver, pipeline::lifecycle"),
        "{found:?}"
    );
    // Without the back edge, no cycle.
    write("pipeline/driver.rs", "use crate::clock::wall_ms;\n");
    assert!(cycles_in(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
