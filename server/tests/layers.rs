//! The layers point one way (ARCHITECTURE.md): HTTP and the connection
//! above, the rooms and their logs below, the settings under everything.
//! Read from the source: a module that names another (`crate::x`) in its
//! code depends on it. No two top-level modules depend on each other, by
//! any path; `run` (lib.rs, which names modules without `crate::`) is the
//! composition root that builds the backends and hands them down.

use std::collections::BTreeSet;
use std::path::Path;

/// What each top-level module of `server/src` names of the others, from
/// its code (comments left out).
fn imports() -> Vec<(String, BTreeSet<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let module = relative
                .components()
                .next()
                .and_then(|first| first.as_os_str().to_str())
                .map(|first| first.trim_end_matches(".rs").to_owned())
                .expect("a module");
            let code = std::fs::read_to_string(&path).expect("read a module");
            let mut named = BTreeSet::new();
            for line in code
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
            {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        named.insert(name);
                    }
                }
            }
            match found.iter_mut().find(|(m, _)| *m == module) {
                Some((_, all)) => all.extend(named),
                None => found.push((module, named)),
            }
        }
    }
    found
}

#[test]
fn the_settings_import_nothing_of_the_server() {
    let imports = imports();
    let (_, config) = imports
        .iter()
        .find(|(module, _)| module == "config")
        .expect("config.rs");
    assert!(config.is_empty(), "config imports {config:?}");
}

#[test]
fn what_is_below_the_connection_never_imports_what_is_above() {
    const ABOVE: [&str; 7] = [
        "routes",
        "account_routes",
        "upgrade",
        "transport",
        "listener",
        "static_files",
        "connection",
    ];
    const BELOW: [&str; 10] = [
        "rooms", "log", "presence", "cluster", "store", "accounts", "events", "config", "budget",
        "wire",
    ];
    let imports = imports();
    for (module, named) in &imports {
        if !BELOW.contains(&module.as_str()) {
            continue;
        }
        let upward: Vec<&String> = named
            .iter()
            .filter(|name| ABOVE.contains(&name.as_str()))
            .collect();
        assert!(upward.is_empty(), "{module} imports {upward:?}, above it");
    }
    // The rule reads real modules (a renamed one would pass by default).
    for module in BELOW.iter().chain(&ABOVE) {
        assert!(
            imports.iter().any(|(found, _)| found == module),
            "no module {module} in server/src"
        );
    }
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let imports = imports();
    let edges = |module: &str| -> Vec<String> {
        imports
            .iter()
            .find(|(found, _)| found == module)
            .map(|(_, named)| named.iter().cloned().collect())
            .unwrap_or_default()
    };
    // From each module, every path; a path back to where it started is a
    // cycle, reported as the path.
    for (start, _) in &imports {
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().cloned().unwrap_or_default();
            for next in edges(&last) {
                assert!(next != *start, "a cycle: {} -> {next}", path.join(" -> "));
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
}

#[test]
fn the_rooms_build_no_backend() {
    let imports = imports();
    let (_, rooms) = imports
        .iter()
        .find(|(module, _)| module == "rooms")
        .expect("rooms/");
    for backend in ["cluster", "store"] {
        assert!(
            !rooms.contains(backend),
            "rooms names {backend}: the composition root (open_rooms) builds the backends"
        );
    }
}
