//! A bounded mutation fuzzer for stable Rust: the same targets as the libFuzzer entry points,
//! driven by seeded random mutations of a seed corpus instead of coverage feedback.
//!
//! ```text
//! stable-fuzz TARGET SECONDS [--seed N] [--max-len BYTES] [--timeout SECS] [SEED_DIR...]
//! ```
//!
//! Seeds are every file under `fuzz/corpus/TARGET/` and the given directories; each runs once
//! unmodified (so inputs that once crashed stay regression tests), then mutants run until the
//! time is up. A panic is caught, its input saved to `fuzz/artifacts/TARGET/crash-HASH` and
//! reported; an input that runs longer than the timeout is saved as `timeout-HASH`, and one that
//! asks for more than 2 GiB in one allocation as `oom-HASH` (libFuzzer's `-malloc_limit_mb`);
//! both end the run. Exit code: 0 when nothing crashed, 1 when something did, 2 on a timeout, an
//! allocation over the limit or bad usage.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mesh_fuzz::TARGETS;

/// Tokens worth splicing into inputs: HCL syntax, function names, JSON structure, extremes.
const DICTIONARY: &[&str] = &[
    "resource",
    "data",
    "variable",
    "locals",
    "output",
    "module",
    "provider",
    "drift",
    "ignore",
    "lifecycle",
    "count",
    "for_each",
    "depends_on",
    "each.key",
    "each.value",
    "count.index",
    "var.x",
    "local.y",
    "mesh_data",
    "test_resource",
    "\"mesh_data\" \"a\"",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "${",
    "%{",
    "%{ for x in [1] }",
    "%{ endfor }",
    "%{ if true }",
    "%{ endif }",
    "<<EOT\n",
    "\nEOT\n",
    "<<-EOT\n",
    "for",
    " in ",
    " : ",
    "=>",
    "...",
    "[*]",
    ".*",
    "?",
    ":",
    "==",
    "!=",
    "&&",
    "||",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "<=",
    ">=",
    "null",
    "true",
    "false",
    "\"\"",
    "\"",
    "\\",
    "\\u0000",
    "\\uD800",
    "\n",
    " = ",
    "#",
    "//",
    "/*",
    "*/",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1.5",
    "9007199254740993",
    "18446744073709551616",
    "NaN",
    "inf",
    "format(\"%5d\", 1)",
    "formatlist(",
    "range(",
    "cidrsubnet(\"10.0.0.0/8\", 8, 1)",
    "cidrhost(",
    "substr(",
    "slice(",
    "element(",
    "chunklist(",
    "indent(",
    "replace(",
    "join(",
    "split(",
    "jsondecode(",
    "yamldecode(",
    "tonumber(",
    "tostring(",
    "toset(",
    "tomap(",
    "merge(",
    "lookup(",
    "zipmap(",
    "flatten(",
    "setproduct(",
    "try(",
    "can(",
    "pow(",
    "log(",
    "parseint(",
    "base64decode(",
    "strrev(",
    "title(",
    "upper(",
    "lower(",
    "sort(",
    "keys(",
    "values(",
    "one(",
    "coalesce(",
    "concat(",
    "distinct(",
    "reverse(",
    "sum(",
    "max(",
    "min(",
    "\"format_version\"",
    "\"serial\"",
    "\"lineage\"",
    "\"resources\"",
    "\"pending\"",
    "\"address\"",
    "\"attributes\"",
    "\"dependencies\"",
    "\"sensitive_paths\"",
    "\"deposed\"",
    "\"changes\"",
    "\"action\"",
    "\"before\"",
    "\"after\"",
    "\"unknown\"",
    "\"sensitive\"",
    "\"value\"",
    "\"outputs\"",
    "\"variables\"",
    "\"prior_state\"",
    "\"drift\"",
    "\"create\"",
    "\"delete\"",
    "\"update\"",
    "\"delete_then_create\"",
    "\"create_then_delete\"",
    "\"read\"",
    "\"no_op\"",
    "\"managed\"",
    "\"data\"",
    "\"module.a[0].\"",
    "\"mesh_data.a[\\\"k\\\"]\"",
    " (deposed object 1a2b3c4d)",
    "\n---\n",
    ",",
    "[]",
    "{}",
    "[[[[",
    "]]]]",
    "{\"a\":",
];

/// The largest single allocation an input may cause.
const MALLOC_LIMIT: usize = 2 << 30;

/// The system allocator, except that a request over [`MALLOC_LIMIT`] saves the input in flight
/// and ends the process: otherwise the allocation failure aborts without saying which input.
struct Guarded;

// SAFETY: every call is forwarded to the system allocator unchanged; the only addition is the
// report, which runs instead of an allocation that is never made.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MALLOC_LIMIT {
            over_limit(layout.size());
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MALLOC_LIMIT {
            over_limit(new_size);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Guarded = Guarded;

/// Where the input in flight is, set once the run starts.
static IN_FLIGHT: OnceLock<(Arc<InFlight>, PathBuf)> = OnceLock::new();

fn over_limit(size: usize) -> ! {
    static REPORTING: AtomicBool = AtomicBool::new(false);
    if !REPORTING.swap(true, Ordering::SeqCst) {
        if let Some((in_flight, artifacts)) = IN_FLIGHT.get() {
            let input = in_flight
                .input
                .try_lock()
                .map(|i| i.clone())
                .unwrap_or_default();
            let saved = save(artifacts, "oom", &input);
            eprintln!(
                "OOM: an input asked for {size} bytes at once, more than {MALLOC_LIMIT} ({})",
                saved.display()
            );
        }
    }
    std::process::exit(2);
}

struct Options {
    target: String,
    seconds: u64,
    seed: u64,
    max_len: usize,
    timeout: Duration,
    seed_dirs: Vec<PathBuf>,
}

fn main() {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            eprintln!(
                "usage: stable-fuzz TARGET SECONDS [--seed N] [--max-len BYTES] [--timeout SECS] [SEED_DIR...]"
            );
            let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            eprintln!("targets: {}", names.join(", "));
            std::process::exit(2);
        }
    };
    let Some(&(_, target)) = TARGETS.iter().find(|(n, _)| *n == options.target) else {
        eprintln!("unknown target {}", options.target);
        std::process::exit(2);
    };
    std::process::exit(run(&options, target));
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut options = Options {
        target: String::new(),
        seconds: 0,
        seed: 0x6d65_7368,
        max_len: 8192,
        timeout: Duration::from_secs(20),
        seed_dirs: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seed" => options.seed = value("--seed")?,
            "--max-len" => options.max_len = value("--max-len")? as usize,
            "--timeout" => options.timeout = Duration::from_secs(value("--timeout")?),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    options.target = positional.next().ok_or("missing TARGET")?;
    options.seconds = positional
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("missing or bad SECONDS")?;
    options.seed_dirs = positional.map(PathBuf::from).collect();
    Ok(options)
}

/// The inputs in flight, for the watchdog to save when one hangs.
struct InFlight {
    input: Mutex<Vec<u8>>,
    started_ms: AtomicU64,
}

fn run(options: &Options, target: fn(&[u8])) -> i32 {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let artifacts = fuzz_dir.join("artifacts").join(&options.target);
    let mut dirs = vec![fuzz_dir.join("corpus").join(&options.target)];
    dirs.extend(options.seed_dirs.iter().cloned());
    let mut seeds = Vec::new();
    for dir in &dirs {
        collect_files(dir, &mut seeds);
    }
    seeds.retain(|s| s.len() <= options.max_len);
    if seeds.is_empty() {
        seeds.push(b"{}".to_vec());
    }
    eprintln!(
        "stable-fuzz {}: {} seeds, {} s, seed {}",
        options.target,
        seeds.len(),
        options.seconds,
        options.seed
    );
    let in_flight = Arc::new(InFlight {
        input: Mutex::new(Vec::new()),
        started_ms: AtomicU64::new(u64::MAX),
    });
    let _ = IN_FLIGHT.set((in_flight.clone(), artifacts.clone()));
    let clock = Instant::now();
    spawn_watchdog(in_flight.clone(), clock, options.timeout, artifacts.clone());
    // Panics are expected findings: report them here, not with the default hook's backtrace.
    let last_panic: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let recorder = last_panic.clone();
    panic::set_hook(Box::new(move |info| {
        let mut message = info.to_string();
        message.truncate(2000);
        *recorder.lock().unwrap_or_else(|e| e.into_inner()) = message;
    }));
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let deadline = Duration::from_secs(options.seconds);
    let mut crashes: Vec<String> = Vec::new();
    let mut runs: u64 = 0;
    let mut index = 0usize;
    while index < seeds.len() || clock.elapsed() < deadline {
        let input = if index < seeds.len() {
            index += 1;
            seeds[index - 1].clone()
        } else {
            mutate(&mut rng, &seeds, options.max_len)
        };
        *in_flight.input.lock().unwrap_or_else(|e| e.into_inner()) = input.clone();
        in_flight
            .started_ms
            .store(clock.elapsed().as_millis() as u64, Ordering::SeqCst);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| target(&input)));
        in_flight.started_ms.store(u64::MAX, Ordering::SeqCst);
        runs += 1;
        if outcome.is_err() {
            let message = last_panic.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let saved = save(&artifacts, "crash", &input);
            if !crashes.contains(&message) {
                eprintln!("CRASH ({}): {message}", saved.display());
                crashes.push(message);
            }
        }
    }
    let secs = clock.elapsed().as_secs_f64();
    eprintln!(
        "stable-fuzz {}: {runs} runs in {secs:.0} s ({:.0}/s), {} distinct crashes",
        options.target,
        runs as f64 / secs.max(1e-9),
        crashes.len()
    );
    println!("{}\t{runs}\t{secs:.0}\t{}", options.target, crashes.len());
    i32::from(!crashes.is_empty())
}

fn spawn_watchdog(in_flight: Arc<InFlight>, clock: Instant, timeout: Duration, artifacts: PathBuf) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let started = in_flight.started_ms.load(Ordering::SeqCst);
        if started == u64::MAX {
            continue;
        }
        let now = clock.elapsed().as_millis() as u64;
        if now.saturating_sub(started) > timeout.as_millis() as u64 {
            let input = in_flight
                .input
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let saved = save(&artifacts, "timeout", &input);
            eprintln!(
                "TIMEOUT: an input ran longer than {} s ({})",
                timeout.as_secs(),
                saved.display()
            );
            std::process::exit(2);
        }
    });
}

fn collect_files(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(bytes);
        }
    }
}

/// Save an input under a name derived from its bytes; returns the path.
fn save(dir: &Path, kind: &str, input: &[u8]) -> PathBuf {
    let path = dir.join(format!("{kind}-{:016x}", fnv1a(input)));
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(&path, input);
    path
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A seed with one to eight stacked mutations.
fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut data = seeds[rng.usize(..seeds.len())].clone();
    for _ in 0..rng.usize(1..=8) {
        mutate_once(rng, &mut data, seeds);
    }
    data.truncate(max_len);
    data
}

fn mutate_once(rng: &mut fastrand::Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = data.len();
    let at = if len == 0 { 0 } else { rng.usize(..=len) };
    match rng.u8(..9) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            data[i] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let i = rng.usize(..len);
            data[i] = *rng
                .choice(b"\0\xff\"{}[]()\n$%\\=.,:0-9e".iter())
                .unwrap_or(&b'0');
        }
        2 => {
            let token = rng.choice(DICTIONARY.iter()).unwrap_or(&"{");
            data.splice(at..at, token.bytes());
        }
        3 if len > 0 => {
            let end = (at + rng.usize(1..=16.min(len))).min(len);
            data.drain(at.min(end)..end);
        }
        4 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + rng.usize(1..=64)).min(len);
            let chunk = data[start..end].to_vec();
            data.splice(at..at, chunk);
        }
        5 => {
            let other = &seeds[rng.usize(..seeds.len())];
            if !other.is_empty() {
                let start = rng.usize(..other.len());
                let end = (start + rng.usize(1..=128)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
        6 => data.truncate(at),
        7 => replace_number(rng, data),
        _ => data.insert(at, rng.u8(..)),
    }
}

/// Replace one run of digits with an extreme number.
fn replace_number(rng: &mut fastrand::Rng, data: &mut Vec<u8>) {
    let digits: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit())
        .collect();
    let Some(&start) = digits.get(rng.usize(..digits.len().max(1))) else {
        return;
    };
    let end = (start..data.len())
        .find(|&i| !data[i].is_ascii_digit())
        .unwrap_or(data.len());
    let extreme = rng
        .choice(
            [
                "0",
                "1",
                "4294967296",
                "18446744073709551615",
                "18446744073709551616",
                "9007199254740993",
                "1e308",
                "99999999999999999999999999",
            ]
            .iter(),
        )
        .unwrap_or(&"0");
    data.splice(start..end, extreme.bytes());
}
