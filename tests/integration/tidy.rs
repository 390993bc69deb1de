//! Tidy tests: what ARCHITECTURE.md promises about dependencies and purity, enforced.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The names in a manifest's `[dependencies]` table (not dev-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).expect("manifest");
    let mut names = Vec::new();
    let mut in_deps = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap_or("").trim();
            names.push(name.to_string());
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "warp",
    "hyper",
    "rmp-serde",
    "rmp",
    "serde_json",
    "eventstore",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "async-trait",
    "reqwest",
    "lettre",
    "tracing",
    "dashmap",
    "rand",
];

#[test]
fn domain_and_projections_depend_on_no_runtime_codec_or_store_crate() {
    for krate in ["domain", "projections"] {
        let deps = dependencies(krate);
        assert!(!deps.is_empty(), "{krate} manifest parsed");
        for dep in &deps {
            assert!(
                !FORBIDDEN_IN_CORE.contains(&dep.as_str()),
                "{krate} depends on {dep}, which ARCHITECTURE.md forbids"
            );
        }
    }
    let domain = dependencies("domain");
    assert!(
        !domain.iter().any(|d| d.starts_with("ipledger-")),
        "domain depends on another ipledger crate: {domain:?}"
    );
}

#[test]
fn domain_reads_no_clock_randomness_or_io() {
    let forbidden = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "now_v7",
        "new_v4",
        "std::fs",
        "std::net::Tcp",
        "std::io::",
    ];
    let mut files = Vec::new();
    rust_files(&root().join("domain/src"), &mut files);
    rust_files(&root().join("projections/src"), &mut files);
    assert!(files.len() > 3);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        for f in forbidden {
            assert!(
                !text.contains(f),
                "{} uses {f}: the core must stay pure",
                file.display()
            );
        }
    }
}
