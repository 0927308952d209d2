//! Issue 6: the modules' dependencies point one way. Reads `src/` and fails on any cycle between
//! top-level modules, and on a bottom-layer module (grid, domain, time, text) that imports a
//! stage. The printed graph is the map docs/ARCHITECTURE.md draws.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const BOTTOM: [&str; 4] = ["grid", "domain", "time", "text"];

/// Top-level module → the top-level modules its files name as `crate::…`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap();
            let top =
                rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            if ["lib", "main", "cli", "commands"].contains(&top.as_str()) {
                continue; // the crate root and the binary sit above everything
            }
            let text = std::fs::read_to_string(&p).unwrap();
            // test modules may use anything
            let code = text.split("#[cfg(test)]").next().unwrap();
            let deps = g.entry(top.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + 7..];
                // `crate::{a::X, b}` names several modules at once
                let names: Vec<String> = match rest.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .map(|part| part.trim().split("::").next().unwrap_or("").to_string())
                        .collect(),
                    None => vec![rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()],
                };
                deps.extend(names.into_iter().filter(|n| !n.is_empty() && *n != top && n != "self"));
            }
        }
    }
    g
}

fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, node: &str, path: &mut Vec<String>) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        return Some(path[at..].iter().cloned().chain([node.to_string()]).collect());
    }
    path.push(node.to_string());
    for next in g.get(node).into_iter().flatten() {
        if let Some(c) = cycle_from(g, next, path) {
            return Some(c);
        }
    }
    path.pop();
    None
}

#[test]
fn r6_module_imports_have_no_cycle_and_the_bottom_imports_no_stage() {
    let g = graph();
    for (m, deps) in &g {
        eprintln!("{m:<12} -> {}", deps.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    for m in g.keys() {
        if let Some(c) = cycle_from(&g, m, &mut Vec::new()) {
            panic!("module cycle: {}", c.join(" -> "));
        }
    }
    for b in BOTTOM {
        let bad: Vec<&String> = g[b].iter().filter(|d| !BOTTOM.contains(&d.as_str())).collect();
        assert!(bad.is_empty(), "bottom-layer module {b} imports stages {bad:?}");
    }
    assert!(!g["feed"].contains("store"), "the feed writes tickets; it does not need the database");
    assert!(!g["ingest"].contains("detect") && !g["detect"].is_empty(), "ingest never reaches up into detect");
}
