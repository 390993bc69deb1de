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

/// The api crate's layout rules (ARCHITECTURE.md, "api"), checked on the `crate::` and
/// `super::` paths each file names (in `use` lists and in code; comments are skipped):
///
/// - A *surface* is a folder of `src/` whose `mod.rs` declares `ROUTES`: its router. The
///   router holds its rows and module declarations, no functions, and `routes.rs` lists it.
/// - No file under a surface folder (other than its `mod.rs`) names a router module: any
///   surface's `mod.rs`, `routes.rs` or `server.rs`. Handlers are reached from rows; they
///   never reach back to a router, their own or another surface's.
/// - Wire modules (`wire*.rs`) name no handler module (a file under a surface folder that
///   takes a `Call`): rendering a record never calls into a handler.
/// - The toolkit (`kit/`) names no surface, `routes.rs` or `server.rs`: every handler can
///   import it without importing a router.
#[test]
fn surfaces_handlers_and_wire_modules_keep_their_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let read = |f: &Path| std::fs::read_to_string(f).expect("a source file");
    let surfaces: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("src")
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("mod.rs").is_file())
        .filter(|d| read(&d.join("mod.rs")).contains("pub static ROUTES"))
        .collect();
    assert!(surfaces.len() >= 4, "found the surfaces: {surfaces:?}");
    let table = read(&src.join("routes.rs"));
    let mut routers = vec![src.join("routes.rs"), src.join("server.rs")];
    for surface in &surfaces {
        let name = surface.file_name().unwrap().to_string_lossy();
        let router = surface.join("mod.rs");
        assert!(
            table.contains(&format!("crate::{name}::ROUTES")),
            "routes.rs does not list the rows of surface {name}"
        );
        assert!(
            !code_of(&read(&router)).contains("fn "),
            "{}: a surface's mod.rs holds its rows and module declarations only",
            router.display()
        );
        routers.push(router);
    }
    let in_surface = |f: &Path| surfaces.iter().any(|s| f.starts_with(s));
    let handlers: Vec<&PathBuf> = files
        .iter()
        .filter(|f| in_surface(f) && read(f).contains("Call<'_>"))
        .collect();
    assert!(
        handlers.len() > 10,
        "found the handler modules: {handlers:?}"
    );
    let mut broken = Vec::new();
    for file in &files {
        let named = named_modules(&src, file, &read(file));
        let stem = file.file_stem().unwrap().to_string_lossy();
        let is_router = routers.contains(file);
        for target in &named {
            let shown = target.strip_prefix(&src).unwrap_or(target).display();
            let here = file.strip_prefix(&src).unwrap_or(file).display();
            if in_surface(file) && !is_router && routers.contains(target) {
                broken.push(format!("{here} names the router module {shown}"));
            }
            if stem.starts_with("wire") && handlers.contains(&target) {
                broken.push(format!(
                    "wire module {here} names the handler module {shown}"
                ));
            }
            if file.starts_with(src.join("kit")) && (in_surface(target) || routers.contains(target))
            {
                broken.push(format!("the toolkit's {here} names {shown}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layout rules broken:\n{}",
        broken.join("\n")
    );
}

/// Guards issue 7 item 6: 17 files of the api imported each other in one loop, because the
/// router was also the toolkit every handler imported. No module may reach itself again
/// through the `crate::`/`super::` paths it names (unit-test modules aside).
#[test]
fn the_api_modules_import_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let edges: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("a source file");
            named_modules(&src, f, &text)
                .iter()
                .filter_map(|t| files.iter().position(|g| g == t))
                .collect()
        })
        .collect();
    // Depth-first search; 1 = on the current path, 2 = done.
    fn visit(at: usize, edges: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> bool {
        state[at] = 1;
        path.push(at);
        for &next in &edges[at] {
            if state[next] == 1 {
                path.push(next);
                return true;
            }
            if state[next] == 0 && visit(next, edges, state, path) {
                return true;
            }
        }
        path.pop();
        state[at] = 2;
        false
    }
    let mut state = vec![0u8; files.len()];
    for start in 0..files.len() {
        let mut path = Vec::new();
        if state[start] == 0 && visit(start, &edges, &mut state, &mut path) {
            let back = *path.last().unwrap();
            let from = path.iter().position(|&i| i == back).unwrap();
            let shown: Vec<String> = path[from..]
                .iter()
                .map(|&i| files[i].strip_prefix(&src).unwrap().display().to_string())
                .collect();
            panic!("an import cycle: {}", shown.join(" → "));
        }
    }
}

/// The text without `//` comments (a `//` after a non-space, as in `http://`, is kept).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let cut = line
            .match_indices("//")
            .find(|(i, _)| *i == 0 || line[..*i].ends_with(char::is_whitespace))
            .map_or(line.len(), |(i, _)| i);
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// The module files a source file names through `crate::...` or `super::...` paths,
/// `use` lists with braces expanded.
fn named_modules(src: &Path, file: &Path, text: &str) -> Vec<PathBuf> {
    let code = outside_inline_modules(&code_of(text));
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let mut statement = statement.trim();
        // Attributes (`#[cfg(test)]`, `#[allow(..)]`) before the item.
        while let Some(attribute) = statement.strip_prefix("#[") {
            let end = attribute.find(']').map_or(attribute.len(), |e| e + 1);
            statement = attribute[end..].trim_start();
        }
        let body = statement
            .strip_prefix("pub(crate) use ")
            .or_else(|| statement.strip_prefix("pub use "))
            .or_else(|| statement.strip_prefix("use "));
        match body {
            Some(tree) => expand(&tree.split_whitespace().collect::<String>(), &mut paths),
            None => paths.extend(inline_paths(statement)),
        }
    }
    let mut out = Vec::new();
    for path in paths {
        let segments: Vec<&str> = path.split("::").collect();
        let absolute = match segments.first() {
            Some(&"crate") => segments[1..].iter().map(|s| s.to_string()).collect(),
            Some(&"super") => {
                let mut parent = module_of(src, file);
                parent.pop();
                parent.extend(segments[1..].iter().map(|s| s.to_string()));
                parent
            }
            _ => continue,
        };
        if let Some(target) = resolve(src, &absolute) {
            if target != file && !out.contains(&target) {
                out.push(target);
            }
        }
    }
    out
}

/// The code with the bodies of inline modules (`mod tests { ... }`) left out: their
/// `super::` is the file itself, and what a unit test imports is not the file's dependency.
fn outside_inline_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(start) = find_inline_mod(rest) {
        out.push_str(&rest[..start]);
        let open = start + rest[start..].find('{').expect("an inline module's brace");
        let mut depth = 0;
        let mut end = rest.len();
        for (i, ch) in rest[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where `mod <name> {` starts, if anywhere.
fn find_inline_mod(code: &str) -> Option<usize> {
    code.match_indices("mod ").map(|(i, _)| i).find(|&i| {
        let before_ok = code[..i].ends_with(|c: char| c.is_whitespace()) || i == 0;
        let after: String = code[i + 4..]
            .chars()
            .take_while(|c| *c != ';' && *c != '{')
            .collect();
        before_ok
            && !after.is_empty()
            && after
                .trim()
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_')
            && code[i + 4 + after.len()..].starts_with('{')
    })
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (whitespace already removed).
fn expand(tree: &str, out: &mut Vec<String>) {
    let Some(open) = tree.find('{') else {
        out.push(tree.trim_end_matches("::").to_string());
        return;
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut start = 0;
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand_one(prefix, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    expand_one(prefix, &inner[start..], out);
}

fn expand_one(prefix: &str, part: &str, out: &mut Vec<String>) {
    let part = part.split(" as ").next().unwrap_or(part);
    match part {
        "" => {}
        "self" => out.push(prefix.trim_end_matches("::").to_string()),
        _ => expand(&format!("{prefix}{part}"), out),
    }
}

/// `crate::a::b` and `super::a` paths written in code (outside `use`).
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["crate::", "super::"] {
        for (i, _) in code.match_indices(root) {
            if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let path: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module path of a file: `src/melange/blocks.rs` → `["melange", "blocks"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The deepest module file a path names: `["melange", "wire", "block"]` →
/// `src/melange/wire.rs`; `["melange", "ROUTES"]` → `src/melange/mod.rs`.
fn resolve(src: &Path, path: &[String]) -> Option<PathBuf> {
    let mut dir = src.to_path_buf();
    let mut found = None;
    for segment in path {
        let folder = dir.join(segment);
        let file = dir.join(format!("{segment}.rs"));
        if folder.join("mod.rs").is_file() {
            found = Some(folder.join("mod.rs"));
        } else if file.is_file() {
            found = Some(file);
        } else {
            break;
        }
        dir = folder;
    }
    found
}
