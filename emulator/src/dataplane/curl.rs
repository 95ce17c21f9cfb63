//! curl in a pod: its command line (the options a mesh check uses) and what it prints — the
//! body, headers with `-i`/`-I`, the exchange and the mesh's path with `-v`, `-w '%{http_code}'`
//! — and its exit codes (6 unresolved, 7 refused, 22 with `-f` on an error status, 28 timed
//! out, 35 TLS, 56 reset).

use std::collections::BTreeMap;

use super::apps;
use super::call::{Call, Outcome, Traced};
use super::routing::RequestView;

/// A parsed curl command line.
#[derive(Debug, Clone)]
pub(crate) struct Curl {
    /// The call it makes.
    pub call: Call,
    silent: bool,
    show_error: bool,
    verbose: bool,
    include: bool,
    head: bool,
    fail: bool,
    discard_body: bool,
    write_out: Option<String>,
}

/// What a command prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Printed {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The exit code.
    pub exit_code: i32,
}

impl Printed {
    /// A failure before curl runs (or curl refusing its arguments).
    pub fn error(exit_code: i32, message: String) -> Printed {
        Printed {
            stdout: String::new(),
            stderr: format!("{message}\n"),
            exit_code,
        }
    }
}

/// Options that take a value.
const WITH_VALUE: &[&str] = &[
    "-H",
    "--header",
    "-X",
    "--request",
    "-o",
    "--output",
    "-w",
    "--write-out",
    "-m",
    "--max-time",
    "--connect-timeout",
    "-d",
    "--data",
    "-A",
    "--user-agent",
    "--retry",
];

/// Parse `curl ARGS`; the error is what the pod prints and its exit code.
pub(crate) fn parse(command: &[String]) -> Result<Curl, Printed> {
    let Some((program, args)) = command.split_first() else {
        return Err(Printed::error(
            1,
            "error: you must specify at least one command for the container".into(),
        ));
    };
    if program.rsplit('/').next() != Some("curl") {
        return Err(Printed::error(
            126,
            format!("OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown (the local cloud's pods run curl only)"),
        ));
    }
    let mut curl = Curl {
        call: Call {
            https: false,
            host: String::new(),
            request: RequestView::default(),
        },
        silent: false,
        show_error: false,
        verbose: false,
        include: false,
        head: false,
        fail: false,
        discard_body: false,
        write_out: None,
    };
    let mut url = None;
    let mut method = None;
    let mut headers = BTreeMap::new();
    let mut data = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if !arg.starts_with('-') || arg == "-" {
            url = Some(arg.clone());
            continue;
        }
        if WITH_VALUE.contains(&arg.as_str()) {
            let Some(value) = args.next() else {
                return Err(Printed::error(
                    2,
                    format!("curl: option {arg}: requires parameter"),
                ));
            };
            match arg.as_str() {
                "-H" | "--header" => {
                    if let Some((name, value)) = value.split_once(':') {
                        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                    }
                }
                "-X" | "--request" => method = Some(value.clone()),
                "-o" | "--output" => curl.discard_body = true,
                "-w" | "--write-out" => curl.write_out = Some(value.clone()),
                "-d" | "--data" => data = true,
                _ => {}
            }
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            match long {
                "silent" => curl.silent = true,
                "show-error" => curl.show_error = true,
                "verbose" => curl.verbose = true,
                "include" => curl.include = true,
                "head" => curl.head = true,
                "fail" => curl.fail = true,
                "insecure" | "location" | "http1.1" | "compressed" => {}
                _ => return Err(unknown(arg)),
            }
            continue;
        }
        for flag in arg[1..].chars() {
            match flag {
                's' => curl.silent = true,
                'S' => curl.show_error = true,
                'v' => curl.verbose = true,
                'i' => curl.include = true,
                'I' => curl.head = true,
                'f' => curl.fail = true,
                'k' | 'L' => {}
                _ => return Err(unknown(arg)),
            }
        }
    }
    let Some(url) = url else {
        return Err(Printed::error(2, "curl: no URL specified!".into()));
    };
    let method = method.unwrap_or_else(|| match (curl.head, data) {
        (true, _) => "HEAD".into(),
        (_, true) => "POST".into(),
        _ => "GET".into(),
    });
    let (https, host, port, path) = split_url(&url).ok_or_else(|| {
        Printed::error(
            3,
            format!("curl: (3) URL using bad/illegal format or missing URL: {url}"),
        )
    })?;
    headers
        .entry("host".to_string())
        .or_insert_with(|| format!("{host}:{port}"));
    curl.call = Call {
        https,
        host,
        request: RequestView {
            method,
            path,
            port,
            headers,
        },
    };
    Ok(curl)
}

fn unknown(arg: &str) -> Printed {
    Printed::error(
        2,
        format!("curl: option {arg}: is unknown (or not simulated by the local cloud)\ncurl: try 'curl --help' for more information"),
    )
}

/// (https, host, port, path) of a URL, as curl reads it (no scheme: http).
pub(crate) fn split_url(url: &str) -> Option<(bool, String, u16, String)> {
    let (https, rest) = match url.split_once("://") {
        Some(("http", rest)) => (false, rest),
        Some(("https", rest)) => (true, rest),
        Some(_) => return None,
        None => (false, url),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, if https { 443 } else { 80 }),
    };
    if host.is_empty() {
        return None;
    }
    Some((https, host.to_ascii_lowercase(), port, path))
}

impl Curl {
    /// What curl prints for `traced`, and its exit code.
    pub fn print(&self, traced: &Traced) -> Printed {
        let mut stderr = String::new();
        if self.verbose {
            for line in &traced.trace {
                stderr.push_str(&format!("* mesh: {line}\n"));
            }
        }
        match &traced.outcome {
            Outcome::CurlError { code, message } => {
                if !self.silent || self.show_error {
                    stderr.push_str(&format!("curl: ({code}) {message}\n"));
                }
                Printed {
                    stdout: String::new(),
                    stderr,
                    exit_code: *code,
                }
            }
            Outcome::Response {
                status,
                body,
                server,
                proxied,
            } => {
                let (status, body) = match server {
                    Some(server) if *status == 200 => apps::answer(server, &self.call.request),
                    _ => (*status, body.clone()),
                };
                self.print_response(stderr, status, &body, *proxied)
            }
        }
    }

    fn print_response(
        &self,
        mut stderr: String,
        status: u16,
        body: &str,
        proxied: bool,
    ) -> Printed {
        let request = &self.call.request;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", apps::reason(status));
        if !body.is_empty() {
            head.push_str(&format!(
                "content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        if proxied {
            head.push_str("server: envoy\r\n");
        }
        head.push_str("\r\n");
        if self.verbose {
            stderr.push_str(&format!(
                "> {} {} HTTP/1.1\n> Host: {}\n>\n",
                request.method,
                request.path,
                request.headers.get("host").cloned().unwrap_or_default()
            ));
            for line in head.lines().filter(|l| !l.is_empty()) {
                stderr.push_str(&format!("< {line}\n"));
            }
        }
        if self.fail && status >= 400 {
            if !self.silent || self.show_error {
                stderr.push_str(&format!(
                    "curl: (22) The requested URL returned error: {status}\n"
                ));
            }
            return Printed {
                stdout: String::new(),
                stderr,
                exit_code: 22,
            };
        }
        let mut stdout = String::new();
        if self.include || self.head {
            stdout.push_str(&head);
        }
        if !self.head && !self.discard_body {
            stdout.push_str(body);
        }
        if let Some(format) = &self.write_out {
            stdout.push_str(
                &format
                    .replace("%{http_code}", &format!("{status:03}"))
                    .replace("\\n", "\n"),
            );
        }
        Printed {
            stdout,
            stderr,
            exit_code: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn urls_split_like_curl_reads_them() {
        assert_eq!(
            split_url("helloworld.sample:5000/hello"),
            Some((false, "helloworld.sample".into(), 5000, "/hello".into()))
        );
        assert_eq!(
            split_url("https://www.google.com"),
            Some((true, "www.google.com".into(), 443, "/".into()))
        );
        assert_eq!(split_url("ftp://x/"), None);
        assert_eq!(split_url("http://:80/"), None);
    }

    #[test]
    fn options_parse_and_unknown_ones_fail_like_curl() {
        let curl = parse(&args("curl -sS -H Host:x -w %{http_code} echoserver")).unwrap();
        assert!(curl.silent && curl.show_error);
        assert_eq!(curl.call.request.headers["host"], "x");
        assert_eq!(curl.call.request.port, 80);
        assert_eq!(parse(&args("curl --bogus x")).unwrap_err().exit_code, 2);
        assert_eq!(parse(&args("wget x")).unwrap_err().exit_code, 126);
        assert_eq!(parse(&args("curl -s")).unwrap_err().exit_code, 2);
    }

    #[test]
    fn errors_print_unless_silent() {
        let traced = |code| Traced {
            outcome: Outcome::CurlError {
                code,
                message: "Could not resolve host: x".into(),
            },
            trace: vec!["x has no DNS answer".into()],
        };
        let printed = parse(&args("curl -s x")).unwrap().print(&traced(6));
        assert_eq!((printed.exit_code, printed.stderr.as_str()), (6, ""));
        let printed = parse(&args("curl -sSv x")).unwrap().print(&traced(6));
        assert_eq!(
            printed.stderr,
            "* mesh: x has no DNS answer\ncurl: (6) Could not resolve host: x\n"
        );
    }

    #[test]
    fn error_statuses_print_their_body_or_fail_with_f() {
        let traced = Traced {
            outcome: Outcome::proxy(503, "no healthy upstream"),
            trace: Vec::new(),
        };
        let printed = parse(&args("curl -s x")).unwrap().print(&traced);
        assert_eq!(printed.stdout, "no healthy upstream");
        assert_eq!(printed.exit_code, 0);
        let printed = parse(&args("curl -sf x")).unwrap().print(&traced);
        assert_eq!(printed.exit_code, 22);
        let printed = parse(&args("curl -s -o /dev/null -w %{http_code} x"))
            .unwrap()
            .print(&traced);
        assert_eq!(printed.stdout, "503");
    }
}
