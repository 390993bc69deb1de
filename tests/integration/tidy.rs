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
        "getrandom",
        "thread_rng",
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

/// The ipledger crates each crate may depend on (ARCHITECTURE.md: dependencies point inward;
/// the store port belongs to `commands`, which `infra` implements).
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("projections", &["ipledger-domain"]),
    ("commands", &["ipledger-domain", "ipledger-projections"]),
    ("infra", &["ipledger-domain", "ipledger-commands"]),
    (
        "api",
        &[
            "ipledger-domain",
            "ipledger-projections",
            "ipledger-commands",
            "ipledger-infra",
        ],
    ),
];

#[test]
fn crate_dependencies_point_inward() {
    for (krate, allowed) in ALLOWED_EDGES {
        for dep in dependencies(krate) {
            if dep.starts_with("ipledger-") {
                assert!(
                    allowed.contains(&dep.as_str()),
                    "{krate} depends on {dep}; ARCHITECTURE.md allows only {allowed:?}"
                );
            }
        }
    }
}

#[test]
fn commands_links_no_codec_store_or_mail_crate() {
    // `commands` owns the ports; the codec, the storage and the mail transport are the
    // backends' business (issue 7: it used to link lettre and the codec through infra).
    for dep in dependencies("commands") {
        for forbidden in [
            "rmp-serde",
            "crc32c",
            "lettre",
            "libc",
            "tokio-postgres",
            "sqlx",
            "eventstore",
        ] {
            assert_ne!(dep, forbidden, "commands depends on {dep}");
        }
    }
}

/// Names of concrete infra types: only the composition root (`api/src/main.rs`,
/// `api/src/ops.rs`) may name them.
const CONCRETE_INFRA: &[&str] = &["FileLog", "SmtpMailer", "filelog::", "PostgresStore"];

#[test]
fn only_the_composition_root_names_concrete_infra_types() {
    let mut files = Vec::new();
    rust_files(&root().join("api/src"), &mut files);
    rust_files(&root().join("commands/src"), &mut files);
    rust_files(&root().join("projections/src"), &mut files);
    assert!(files.len() > 10);
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let composition_root = file.parent().is_some_and(|p| p.ends_with("api/src"))
            && (name == "main.rs" || name == "ops.rs");
        if composition_root {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        for concrete in CONCRETE_INFRA {
            assert!(
                !text.contains(concrete),
                "{} names {concrete}: only api/src/main.rs and api/src/ops.rs may",
                file.display()
            );
        }
    }
}

#[test]
fn the_state_exposes_methods_not_fields() {
    // ARCHITECTURE.md: the projections' boundary is `apply` plus view methods; a `pub` field
    // on `State` would let another crate depend on its layout.
    let text = std::fs::read_to_string(root().join("projections/src/state.rs")).expect("state.rs");
    let start = text.find("pub struct State {").expect("State is defined");
    let body = &text[start..start + text[start..].find("\n}").expect("end of State")];
    let public: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pub ") && !l.starts_with("pub struct"))
        .collect();
    assert!(public.is_empty(), "public fields on State: {public:?}");
}
