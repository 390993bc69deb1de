//! Tidy tests of the API crate's own sources: rules that a review would otherwise have to
//! remember, checked by reading the files.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_fault_rs_builds_a_503() {
    // Guards defect 4: handlers built their own 503s and forgot Retry-After; a 503 must come
    // from `Fault::unavailable` in fault.rs, which always sets it.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "walked api/src: {files:?}");
    let fault_rs = src.join("fault.rs");
    let this = src.join("tidy.rs");
    // The names a 503 can be spelled with; split so that this file does not match itself.
    let spellings = [["SERVICE_", "UNAVAILABLE"], ["from_u16(", "503"]].map(|p| p.concat());
    for file in files.iter().filter(|f| **f != fault_rs && **f != this) {
        let text = std::fs::read_to_string(file).expect("a source file");
        for spelling in &spellings {
            assert!(
                !text.contains(spelling.as_str()),
                "{} names {spelling}: build a 503 with Fault::unavailable (fault.rs)",
                file.display()
            );
        }
    }
    let fault = std::fs::read_to_string(&fault_rs).expect("fault.rs");
    assert!(
        fault.contains(&spellings[0]),
        "the rule's own file builds 503s"
    );
}
