//! The layering rule (docs/ARCHITECTURE.md, "Invariants"): a role crate depends on the
//! shared crates, never on another role. What two roles must agree on lives in a shared
//! crate (`herald_bus::lifecycle`, `herald_proto`), so they cannot drift apart silently.
//! Only the binary (`crates/herald`) puts the roles together.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

/// The role crates, by directory and package name.
const ROLES: [(&str, &str); 4] = [
    ("edge", "herald-edge"),
    ("router", "herald-router"),
    ("connector", "herald-connector"),
    ("control", "herald-control"),
];

/// The package names in the `[dependencies]` and `[dev-dependencies]` tables of a
/// `Cargo.toml` (one `name = ...` or `name.workspace = true` per line, as this workspace
/// writes them).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = matches!(line, "[dependencies]" | "[dev-dependencies]");
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line
            .split(['=', '.', ' '])
            .next()
            .unwrap_or_default()
            .trim();
        if !name.is_empty() {
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn no_role_crate_depends_on_another_role() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    for (dir, package) in ROLES {
        let manifest = std::fs::read_to_string(crates.join(dir).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{package}\"")),
            "crates/{dir} is {package}"
        );
        let deps = dependencies(&manifest);
        assert!(
            deps.iter()
                .any(|d| d == "herald-bus" || d == "herald-proto"),
            "crates/{dir}: the parser found its shared crates ({deps:?})"
        );
        for (_, other) in ROLES {
            assert!(
                other == package || !deps.iter().any(|d| d == other),
                "{package} depends on the role {other}: move what they share into a shared crate"
            );
        }
    }
}

#[test]
fn the_test_harness_depends_on_no_role() {
    // Every role's tests use the harness: a role among its dependencies would be a cycle.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/harness/Cargo.toml");
    let deps = dependencies(&std::fs::read_to_string(manifest).unwrap());
    assert!(
        deps.iter().any(|d| d == "herald-rules"),
        "crates/harness: the parser found its shared crates ({deps:?})"
    );
    for role in ROLES.iter().map(|(_, package)| *package).chain(["herald"]) {
        assert!(
            !deps.iter().any(|d| d == role),
            "herald-harness depends on {role}: what the tests share belongs in the harness or a shared crate"
        );
    }
}

#[test]
fn the_parser_reads_both_dependency_tables_and_nothing_else() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\nherald-bus.workspace = true\n\
                    tokio = { workspace = true }\n# herald-edge\n[dev-dependencies]\n\
                    herald-edge = { path = \"../edge\" }\n[features]\nherald-router = []\n";
    assert_eq!(
        dependencies(manifest),
        ["herald-bus", "tokio", "herald-edge"]
    );
}
