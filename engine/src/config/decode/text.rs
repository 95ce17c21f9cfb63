//! Spec text: reading a directory's `*.hcl` files (which must be UTF-8), and decoding one file
//! held in memory without touching the disk (for tools and for fuzzing the front end).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{decode_body, parse_file};
use crate::config::Module;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};

/// A spec or variables file's bytes as text. Bytes that are not UTF-8 are an error pointing at
/// the line and column of the first bad byte (`shown` is how the error names the file).
pub fn file_text(shown: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let error = match String::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    let valid = error.utf8_error().valid_up_to();
    let bytes = error.into_bytes();
    let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
    let end = prefix.len();
    let location = SourceFile::new(shown, prefix).location(end);
    Err(Diagnostic::error(
        "Invalid UTF-8",
        "spec and variables files must be UTF-8 text; the byte here is not part of a UTF-8 \
         character",
        Some(location),
    ))
}

/// The `*.hcl` files of `dir`, sorted, with paths shown relative to `display_base`.
pub(super) fn read_spec_files(
    dir: &Path,
    display_base: &Path,
) -> Result<Vec<Arc<SourceFile>>, Diagnostic> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Diagnostic::error(
            "Cannot read spec directory",
            format!("{}: {e}", dir.display()),
            None,
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| {
                Diagnostic::error(
                    "Cannot read spec file",
                    format!("{}: {e}", path.display()),
                    None,
                )
            })?;
            let shown = crate::diagnostics::display_path(&path, display_base);
            let text = file_text(&shown, bytes)?;
            Ok(SourceFile::new(shown, text))
        })
        .collect()
}

/// Parse and decode `text` as the only file of a module; `path` is how errors name the file.
///
/// Every problem is reported, with location, as [`load_module_tree`](super::load_module_tree)
/// would report it for a file on disk; a module call's `source` is not read, so its child
/// module stays empty.
pub fn load_module_text(path: impl Into<PathBuf>, text: &str) -> Result<Module, Diagnostics> {
    let file = SourceFile::new(path, text.to_string());
    let body = parse_file(&file).map_err(Diagnostics::from)?;
    let mut module = Module::default();
    let mut diags = Diagnostics::new();
    decode_body(&body, &file, &mut module, &mut diags);
    module.files = vec![file];
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_file_from_memory() {
        let module = load_module_text(
            "t.hcl",
            "variable \"x\" {\n  default = 1\n}\nresource \"mesh_data\" \"a\" {\n  input = var.x\n}\n",
        )
        .expect("decodes");
        assert!(module.variables.contains_key("x"));
        assert!(module.resources.contains_key("mesh_data.a"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error_at_their_line_and_column() {
        assert_eq!(
            file_text(Path::new("t.hcl"), b"a = 1\n".to_vec()).unwrap(),
            "a = 1\n"
        );
        let d = file_text(Path::new("t.hcl"), b"a = 1\nb = \"caf\xe9\"\n".to_vec()).unwrap_err();
        let location = d.location.clone().expect("located");
        assert_eq!((location.line, location.column), (2, 9));
        assert!(d.to_string().contains("on t.hcl line 2, column 9"), "{d}");
    }

    #[test]
    fn reports_syntax_and_decoding_errors_with_the_file_and_line() {
        let err = load_module_text("t.hcl", "resource \"a\" {\n}\n").unwrap_err();
        assert!(err.to_string().contains("t.hcl line 1"), "{err}");
        let err = load_module_text("t.hcl", "\nresource \"a\" \"b\" {\n").unwrap_err();
        assert!(err.to_string().contains("Invalid HCL syntax"), "{err}");
    }
}
