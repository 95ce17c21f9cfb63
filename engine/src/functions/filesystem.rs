//! Filesystem functions: `file`, `filebase64`, `fileexists`, `templatefile`, and the path
//! helpers `abspath`, `basename`, `dirname`.
//!
//! Relative paths are resolved against [`FunctionContext::base_dir`](super::FunctionContext),
//! the directory of the module being evaluated. `templatefile` hands its variables to the
//! evaluator's renderer with unknown values kept (the renderer decides whether the result is
//! unknown); sensitive variables make the whole result sensitive.

use std::path::{Component, Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::args::Kind::*;
use super::args::{def, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("abspath", "abspath(path) string", "Converts a path, relative to the module directory, to an absolute path.", abspath).args(&[Str]),
    def("basename", "basename(path) string", "The last element of a path.", basename).args(&[Str]),
    def("dirname", "dirname(path) string", "A path without its last element.", dirname).args(&[Str]),
    def("file", "file(path) string", "The contents of a UTF-8 file, relative to the module directory.", file).args(&[Str]),
    def("filebase64", "filebase64(path) string", "The contents of a file, base64-encoded.", filebase64).args(&[Str]),
    def("fileexists", "fileexists(path) bool", "Whether a regular file exists at a path.", fileexists).args(&[Str]),
    def("templatefile", "templatefile(path, vars) string", "Renders a template file with the given variables.", templatefile).args(&[Str, Map]).shallow(),
];

fn resolve(c: &Call, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        c.ctx.base_dir.join(p)
    }
}

fn read(c: &Call) -> Result<(String, Vec<u8>), FunctionError> {
    let path = c.str(0)?;
    let shown = c.show(0, path);
    match std::fs::read(resolve(c, path)) {
        Ok(bytes) => Ok((shown, bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(c.err(0, format!("no file exists at {shown}")))
        }
        Err(e) => Err(c.err(0, format!("cannot read {shown}: {e}"))),
    }
}

fn read_text(c: &Call) -> Result<String, FunctionError> {
    let (shown, bytes) = read(c)?;
    String::from_utf8(bytes).map_err(|_| {
        c.err(
            0,
            format!(
                "the contents of {shown} are not valid UTF-8; use filebase64 to read binary files"
            ),
        )
    })
}

fn file(c: &Call) -> Result<Value, FunctionError> {
    read_text(c).map(Value::String)
}

fn filebase64(c: &Call) -> Result<Value, FunctionError> {
    let (_, bytes) = read(c)?;
    Ok(Value::String(STANDARD.encode(bytes)))
}

fn fileexists(c: &Call) -> Result<Value, FunctionError> {
    let path = c.str(0)?;
    match std::fs::metadata(resolve(c, path)) {
        Ok(meta) if meta.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(c.err(
            0,
            format!("{} exists but is not a regular file", c.show(0, path)),
        )),
        Err(_) => Ok(Value::Bool(false)),
    }
}

fn templatefile(c: &Call) -> Result<Value, FunctionError> {
    let vars = c.map(1)?;
    for key in vars.keys() {
        let mut chars = key.chars();
        let valid = chars
            .next()
            .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
            && chars.all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-');
        if !valid {
            return Err(c.err(1, format!("invalid template variable name {key:?}")));
        }
    }
    let template = read_text(c)?;
    (c.ctx.render_template)(&template, vars).map_err(|msg| {
        c.err(
            0,
            format!(
                "cannot render {}: {msg}",
                c.show(0, c.str(0).unwrap_or_default())
            ),
        )
    })
}

/// Remove `.` and resolve `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn abspath(c: &Call) -> Result<Value, FunctionError> {
    let joined = resolve(c, c.str(0)?);
    let absolute = std::path::absolute(&joined)
        .map_err(|e| c.err(0, format!("cannot make the path absolute: {e}")))?;
    Ok(Value::String(
        normalize(&absolute).to_string_lossy().replace('\\', "/"),
    ))
}

fn basename(c: &Call) -> Result<Value, FunctionError> {
    let path = c.str(0)?;
    if path.is_empty() {
        return Ok(Value::string("."));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::string("/"));
    }
    Ok(Value::string(trimmed.rsplit('/').next().unwrap_or(trimmed)))
}

fn dirname(c: &Call) -> Result<Value, FunctionError> {
    let path = c.str(0)?;
    let dir = match path.rfind('/') {
        None => return Ok(Value::string(".")),
        Some(0) => return Ok(Value::string("/")),
        Some(i) => &path[..i],
    };
    let absolute = dir.starts_with('/');
    let cleaned = normalize(Path::new(dir)).to_string_lossy().into_owned();
    Ok(Value::String(match cleaned.as_str() {
        "" if absolute => "/".to_string(),
        "" => ".".to_string(),
        _ => cleaned,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hello.txt"), "Hello World").unwrap();
        std::fs::write(d.path().join("bin"), [0xffu8, 0x00]).unwrap();
        std::fs::write(d.path().join("t.tpl"), "Hi ${name}!").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        d
    }

    #[test]
    fn reading_files() {
        let d = dir();
        let run = |name: &str, args| run_in(d.path(), name, args);
        assert_eq!(run("file", vec![s("hello.txt")]), Ok(s("Hello World")));
        let abs = d.path().join("hello.txt").to_string_lossy().into_owned();
        assert_eq!(run("file", vec![s(&abs)]), Ok(s("Hello World")));
        let e = run("file", vec![s("missing.txt")]).unwrap_err();
        assert_eq!(
            e.message,
            "argument 1 of file: no file exists at \"missing.txt\""
        );
        assert!(run("file", vec![s("bin")])
            .unwrap_err()
            .message
            .contains("not valid UTF-8"));
        assert_eq!(run("filebase64", vec![s("bin")]), Ok(s("/wA=")));
        assert!(run("filebase64", vec![s("nope")])
            .unwrap_err()
            .message
            .contains("no file exists"));
        assert_eq!(
            run("fileexists", vec![s("hello.txt")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(run("fileexists", vec![s("nope")]), Ok(Value::Bool(false)));
        assert!(run("fileexists", vec![s("sub")])
            .unwrap_err()
            .message
            .contains("not a regular file"));
    }

    #[test]
    fn templates() {
        let d = dir();
        let run = |args| run_in(d.path(), "templatefile", args);
        assert_eq!(
            run(vec![s("t.tpl"), map(&[("name", s("Ann"))])]),
            Ok(s("Hi Ann!"))
        );
        let e = run(vec![s("t.tpl"), map(&[("name", list(vec![]))])]).unwrap_err();
        assert!(
            e.message
                .starts_with("argument 1 of templatefile: cannot render \"t.tpl\""),
            "{}",
            e.message
        );
        assert!(run(vec![s("t.tpl"), map(&[("1x", s("a"))])])
            .unwrap_err()
            .message
            .contains("invalid template variable"));
        assert!(run(vec![s("none.tpl"), map(&[])])
            .unwrap_err()
            .message
            .contains("no file exists"));
        assert_eq!(
            run(vec![s("t.tpl"), map(&[("name", Value::Unknown)])]),
            Ok(Value::Unknown)
        );
        assert_eq!(
            run(vec![s("t.tpl"), map(&[("name", secret(s("x")))])]),
            Ok(secret(s("Hi x!")))
        );
        assert_eq!(run(vec![Value::Unknown, map(&[])]), Ok(Value::Unknown));
    }

    #[test]
    fn paths() {
        let d = dir();
        let Ok(Value::String(p)) = run_in(d.path(), "abspath", vec![s("./sub/../hello.txt")])
        else {
            panic!()
        };
        assert!(
            p.starts_with('/') && p.ends_with("/hello.txt") && !p.contains(".."),
            "{p}"
        );
        assert_eq!(ok("basename", vec![s("foo/bar/baz.txt")]), s("baz.txt"));
        assert_eq!(ok("basename", vec![s("foo/bar/")]), s("bar"));
        assert_eq!(ok("dirname", vec![s("foo/bar/baz.txt")]), s("foo/bar"));
        assert_eq!(ok("dirname", vec![s("foo")]), s("."));
        assert_eq!(ok("dirname", vec![s("/foo")]), s("/"));
        assert!(err("basename", vec![list(vec![])])
            .message
            .contains("expected a string"));
        assert!(err("dirname", vec![]).message.contains("exactly 1"));
        assert!(err("abspath", vec![map(&[])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn marks() {
        assert_eq!(ok("file", vec![Value::Unknown]), Value::Unknown);
        assert!(!err("file", vec![secret(s("secret-name"))])
            .message
            .contains("secret-name"));
    }
}
