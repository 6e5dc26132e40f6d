//! The layers point one way (ARCHITECTURE.md): HTTP and the connection
//! above, the rooms and their logs below, the settings under everything.
//! Read from the source: a module that names another (`crate::x`) in its
//! code depends on it. The whole graph is still being straightened (issue
//! 30: the rooms and the log backends import each other); these are the
//! rules that hold, so that they keep holding.

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
        "rooms",
        "message_log",
        "embedded",
        "cluster",
        "store",
        "accounts",
        "events",
        "config",
        "budget",
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
