//! Output to a pipe that the reader closes early (`mesh show | head -1`): mesh stops quietly,
//! never with a panic, exits like a program killed by SIGPIPE (141), and leaves no lock behind.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::harness::{Out, Spec};

/// Far more than a pipe buffer (64 KiB) of plan and `show` output.
const BIG: &str = r#"
resource "mesh_data" "big" {
  input = [for i in range(5000) : "line number ${i} of a long list"]
}
"#;

/// Run `mesh ARGS` with stdout to a pipe; read `lines` lines (0: none), then close the pipe.
fn run_closing_stdout(spec: &Spec, args: &[&str], lines: usize) -> Out {
    let mut cmd = spec.command(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn mesh");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    {
        let mut reader = BufReader::new(stdout);
        for _ in 0..lines {
            reader.read_line(&mut first).expect("read a line");
        }
        // The reader (the pipe's only read end) is dropped here.
    }
    let output = child.wait_with_output().expect("wait for mesh");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: first,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_quiet(out: &Out, what: &str) {
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked\n{}",
        out.dump()
    );
    assert!(
        !out.stderr.contains("Broken pipe"),
        "{what}\n{}",
        out.dump()
    );
}

#[test]
fn show_and_plan_into_a_closed_pipe_exit_quietly() {
    let spec = Spec::with_main(BIG);
    let out = run_closing_stdout(&spec, &["plan"], 1);
    assert_quiet(&out, "plan");
    assert_eq!(out.code, 141, "{}", out.dump());
    assert!(out.stdout.starts_with("mesh used"), "{}", out.dump());
    assert!(!spec.locked(), "plan left its lock behind");

    spec.apply(&[]);
    let out = run_closing_stdout(&spec, &["show"], 1);
    assert_quiet(&out, "show");
    assert_eq!(out.code, 141, "{}", out.dump());
    assert_eq!(out.stdout, "# mesh_data.big:\n");
    for args in [
        &["state", "show", "mesh_data.big"][..],
        &["show", "--format", "json"],
    ] {
        let out = run_closing_stdout(&spec, args, 1);
        assert_quiet(&out, &format!("{args:?}"));
        assert_eq!(out.code, 141, "{args:?}\n{}", out.dump());
    }
}

#[test]
fn apply_into_a_closed_pipe_releases_the_lock() {
    let spec = Spec::with_main(BIG);
    let out = run_closing_stdout(&spec, &["apply", "-auto-approve"], 1);
    assert_quiet(&out, "apply");
    assert_eq!(out.code, 141, "{}", out.dump());
    assert!(!spec.locked(), "apply left its lock behind");
    // Nothing half-done: the next apply works.
    spec.apply(&[]);
    assert_eq!(spec.addresses(), ["mesh_data.big"]);
}

#[test]
fn completions_into_a_closed_pipe_exit_quietly() {
    let spec = Spec::new();
    for lines in [0, 1] {
        for shell in ["bash", "zsh"] {
            let out = run_closing_stdout(&spec, &["completions", shell], lines);
            assert_quiet(&out, shell);
            // The script may fit in the pipe's buffer before the pipe is closed.
            assert!(out.code == 141 || out.code == 0, "{shell}: {}", out.dump());
        }
    }
}
