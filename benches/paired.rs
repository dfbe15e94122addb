//! Paired timing against the peers: ours and scipy / PyTorch in alternating short blocks, so
//! that both sides of every ratio are measured within a fraction of a second of each other.
//!
//! Why: on a shared 2-core virtual machine the speed of everything drifts by 1.3–2× over
//! minutes, and a criterion run followed by `../shared/peers/bench_peers.py` measures the two
//! sides in different minutes. Here a peer process (`benches/paired_peer.py`, run with the
//! peers' python) builds its inputs with the peers' own helpers and times scipy or PyTorch on
//! request; this binary times our kernel on the same input (the matrices are handed over as
//! raw float64) and alternates: per round one block of ours and one block of the peer's,
//! in alternating order, each block ≈ 0.1 s (and at least 3 calls) of back-to-back calls timed
//! one by one — the first call after the pause can be cold; the median of three is the steady
//! state a training loop sees — with a
//! pause before each block (scipy's OpenBLAS threads keep a core busy for ≈ 130 ms after its
//! last call). Each block gives its median call; each round a ratio peer / ours. Printed per case: the medians over
//! rounds of both sides, and the median ratio with its range over the rounds.
//!
//! Cases: expm f64 n ∈ {32, 64, 128, 256, 512}, ‖A‖₁ ∈ {1, 50} (ours: `expm_into` with a
//! reused workspace, and `expm`, which allocates its output and reuses a per-thread workspace); expm_frechet f64 n ∈ {64, 128,
//! 256} (scipy's `expm_frechet(A, E)` returns exp(A) too, as ours does); RNN tanh forward +
//! BPTT f32, T = 100, 8 inputs, (n, B) ∈ {(100, 32), (256, 128), (512, 128)} against
//! `torch.nn.RNN` + `backward()` (ours: the criterion bench's unit, without the 3-output
//! readout PyTorch also runs).
//!
//! ```text
//! cargo bench --bench paired                      # everything, ≈ 4 min
//! cargo bench --bench paired -- expm/ --rounds 21  # cases whose name contains "expm/"
//! cargo bench --bench paired -- --pause-ms 500    # longer pause before each block (300)
//! ```
//! The peers' python is `$PEERS_VENV/bin/python` (default `~/.cache/cortical-peers-venv`, as
//! `../shared/peers/setup.sh` makes it), the peers folder `$CORTICAL_PEERS` (default
//! `../shared/peers` beside the repository). Without them the bench says so and exits 0.
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use cortical_kernels::expm::{expm, expm_frechet, expm_into, ExpmWorkspace};
use cortical_kernels::faer::Mat;
use cortical_kernels::rnn::Activation;
use std::hint::black_box;

mod common;
use common::{calls_per_block, median, range, RnnCase};

/// Target length of one block of back-to-back calls.
const BLOCK: Duration = Duration::from_millis(100);
/// Default pause before each block, so the other side's idle threads have stopped spinning
/// (scipy's OpenBLAS threads keep about one core busy for ≈ 130 ms after its last call here).
const PAUSE_MS: u64 = 300;

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(python: &Path, peers: &Path) -> Result<Peer, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/paired_peer.py");
        let mut child = Command::new(python)
            .arg("-u")
            .arg(&script)
            .arg(peers)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut peer = Peer {
            child,
            stdin,
            stdout,
        };
        let probe = peer.ask("probe")?;
        println!(
            "peer: {} ({})",
            probe.trim_start_matches("ok "),
            python.display()
        );
        Ok(peer)
    }

    fn ask(&mut self, line: &str) -> Result<String, String> {
        writeln!(self.stdin, "{line}").map_err(|e| format!("peer gone ({e})"))?;
        let mut reply = String::new();
        self.stdout
            .read_line(&mut reply)
            .map_err(|e| format!("peer gone ({e})"))?;
        let reply = reply.trim().to_string();
        if reply.starts_with("ok") || reply.starts_with("t ") {
            Ok(reply)
        } else if reply.is_empty() {
            Err(format!("peer exited on '{line}' (see its error above)"))
        } else {
            Err(format!("peer answered '{reply}' to '{line}'"))
        }
    }

    /// Per-call times (ns) of `k` back-to-back calls of the peer's current case.
    fn time(&mut self, k: usize) -> Result<Vec<f64>, String> {
        let reply = self.ask(&format!("time {k}"))?;
        reply[2..]
            .split_whitespace()
            .map(|w| w.parse::<f64>().map_err(|e| format!("bad time '{w}': {e}")))
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// Per-call times (ns) of `k` back-to-back calls of `f`.
fn time_ours(k: usize, f: &mut dyn FnMut()) -> Vec<f64> {
    (0..k)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_nanos() as f64
        })
        .collect()
}

/// Calls per block: ≈ [`BLOCK`] of them, and at least 3 so that the block's median is not the
/// one cold call after the pause (the RNN at n = 512 takes ≈ 0.1 s per call).
fn calls_for(one_call_ns: f64) -> usize {
    calls_per_block(Duration::from_nanos(one_call_ns as u64), BLOCK, 3..=5000)
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// One of our implementations of a case.
struct Ours<'a> {
    name: &'static str,
    f: Box<dyn FnMut() + 'a>,
}

/// Alternate blocks of each of `ours` and of the peer for `rounds` rounds; print one row per
/// implementation of ours.
fn pair(
    case: &str,
    extra: &str,
    peer: &mut Peer,
    ours: &mut [Ours<'_>],
    rounds: usize,
    pause: Duration,
) -> Result<(), String> {
    // Calibrate the block sizes on the least of three calls each. One call is not enough: the
    // first call of a case can be far slower than the rest (`expm` re-makes its per-thread
    // workspace for the new size: after the n = 512 cases its first call at n = 32 frees
    // 29 MB and takes 1.7 ms against 22 µs), and a block sized on it held ≈ 60 calls instead
    // of ≈ 4300, too few to leave the slow start after the pause: `expm` at n = 32,
    // ‖A‖₁ = 50 measured 30–36 µs after the n = 512 cases against 23 µs alone (2026-12-05).
    let least = |t: Vec<f64>| t.into_iter().fold(f64::INFINITY, f64::min);
    let k_peer = calls_for(least(peer.time(3)?));
    let k_ours: Vec<usize> = ours
        .iter_mut()
        .map(|o| calls_for(least(time_ours(3, &mut *o.f))))
        .collect();
    let mut peer_med = Vec::with_capacity(rounds);
    let mut ours_med = vec![Vec::with_capacity(rounds); ours.len()];
    for r in 0..rounds {
        let run_ours = |ours: &mut [Ours<'_>], ours_med: &mut [Vec<f64>]| {
            for (i, o) in ours.iter_mut().enumerate() {
                std::thread::sleep(pause);
                ours_med[i].push(median(&time_ours(k_ours[i], &mut *o.f)));
            }
        };
        if r % 2 == 0 {
            run_ours(ours, &mut ours_med);
        }
        std::thread::sleep(pause);
        peer_med.push(median(&peer.time(k_peer)?));
        if r % 2 == 1 {
            run_ours(ours, &mut ours_med);
        }
    }
    for (o, med) in ours.iter().zip(&ours_med) {
        let ratios: Vec<f64> = peer_med.iter().zip(med).map(|(p, q)| p / q).collect();
        let (lo, hi) = range(&ratios);
        let ratio = median(&ratios);
        let (ours_all, peer_all) = (median(med), median(&peer_med));
        println!(
            "| {case} | {extra} | {} | {} | {} | **{ratio:.2}** ({lo:.2}–{hi:.2}) | {rounds} |",
            o.name,
            fmt_time(ours_all),
            fmt_time(peer_all),
        );
    }
    Ok(())
}

fn read_f64(path: &Path, count: usize) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() != 8 * count {
        return Err(format!(
            "{} has {} bytes, expected {} ({count} float64)",
            path.display(),
            bytes.len(),
            8 * count
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

fn mat(v: &[f64], n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| v[i * n + j])
}

/// How many rounds per case, and the pause before each block.
#[derive(Clone, Copy)]
struct Settings {
    rounds: usize,
    pause: Duration,
}

/// One paired case.
#[derive(Clone, Copy)]
enum Case {
    /// scipy.linalg.expm on rand_norm1(default_rng(seed), n, norm).
    Expm { n: usize, norm: f64, seed: u64 },
    /// scipy.linalg.expm_frechet(A, E), E = rand_norm1(same rng, n, 1).
    Frechet { n: usize, norm: f64, seed: u64 },
    /// torch.nn.RNN(tanh) + backward(), T = 100, 8 inputs.
    Rnn { n: usize, batch: usize },
}

impl Case {
    fn name(self) -> String {
        match self {
            Case::Expm { n, norm, .. } => format!("expm/n{n}/norm{norm}"),
            Case::Frechet { n, norm, .. } => format!("expm_frechet/n{n}/norm{norm}"),
            Case::Rnn { n, batch } => format!("rnn_tanh/n{n}_B{batch}"),
        }
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (seed, norm) in [(11u64, 1.0f64), (12, 50.0)] {
        for n in [32usize, 64, 128, 256, 512] {
            v.push(Case::Expm { n, norm, seed });
        }
    }
    for (seed, norm) in [(21u64, 1.0f64), (22, 50.0)] {
        for n in [64usize, 128, 256] {
            v.push(Case::Frechet { n, norm, seed });
        }
    }
    for (n, batch) in [(100usize, 32usize), (256, 128), (512, 128)] {
        v.push(Case::Rnn { n, batch });
    }
    v
}

fn run_case(case: Case, set: Settings, peer: &mut Peer, tmp: &Path) -> Result<(), String> {
    let name = case.name();
    match case {
        Case::Expm { n, norm, seed } => {
            let reply = peer.ask(&format!("expm {n} {norm} {seed} {}", tmp.display()))?;
            let a = mat(&read_f64(tmp, n * n)?, n);
            let mut ws = ExpmWorkspace::<f64>::new(n);
            let mut out = Mat::<f64>::zeros(n, n);
            expm_into(a.as_ref(), out.as_mut(), &mut ws).map_err(|e| e.to_string())?;
            let p = ws.last_plan();
            let scipy_plan = reply.trim_start_matches("ok ").replace(' ', ", ");
            let extra = format!(
                "ours m, s = {}, {}; scipy's {scipy_plan}",
                p.degree, p.squarings
            );
            let mut ours = [
                Ours {
                    name: "expm_into",
                    f: Box::new(|| {
                        expm_into(a.as_ref(), out.as_mut(), &mut ws).expect("finite input");
                        black_box(&out);
                    }),
                },
                Ours {
                    name: "expm",
                    f: Box::new(|| {
                        black_box(expm(a.as_ref()));
                    }),
                },
            ];
            pair(
                &format!("scipy.linalg.{name}"),
                &extra,
                peer,
                &mut ours,
                set.rounds,
                set.pause,
            )?;
        }
        Case::Frechet { n, norm, seed } => {
            peer.ask(&format!("frechet {n} {norm} {seed} {}", tmp.display()))?;
            let v = read_f64(tmp, 2 * n * n)?;
            let (a, e) = (mat(&v[..n * n], n), mat(&v[n * n..], n));
            let mut ours = [Ours {
                name: "expm_frechet",
                f: Box::new(|| {
                    black_box(expm_frechet(a.as_ref(), e.as_ref()));
                }),
            }];
            pair(
                &format!("scipy.linalg.{name}"),
                "E: ‖E‖₁ = 1",
                peer,
                &mut ours,
                set.rounds,
                set.pause,
            )?;
        }
        Case::Rnn { n, batch } => {
            peer.ask(&format!("rnn {n} {batch}"))?;
            let mut case = RnnCase::new(n, batch, Activation::Tanh);
            case.run();
            let mut ours = [Ours {
                name: "forward + backward",
                f: Box::new(|| case.run()),
            }];
            pair(
                &format!("torch.nn.RNN {name}"),
                "T = 100, 8 inputs, f32",
                peer,
                &mut ours,
                set.rounds.div_ceil(2).max(3),
                set.pause,
            )?;
        }
    }
    Ok(())
}

fn main() {
    // cargo passes `--bench`; plain words filter the case names (substring), `--list` lists
    // them. Other options are criterion's (a plain `cargo bench -- --opt` hands them to every
    // bench): ignored with a note.
    let mut filter = Vec::new();
    let mut list = false;
    let mut set = Settings {
        rounds: 15,
        pause: Duration::from_millis(PAUSE_MS),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--list" => list = true,
            "--rounds" => match args.next().and_then(|r| r.parse().ok()) {
                Some(r) if r >= 1 => set.rounds = r,
                _ => {
                    eprintln!("paired: --rounds needs a whole number ≥ 1");
                    std::process::exit(2);
                }
            },
            "--pause-ms" => match args.next().and_then(|r| r.parse().ok()) {
                Some(ms) => set.pause = Duration::from_millis(ms),
                None => {
                    eprintln!("paired: --pause-ms needs a whole number of milliseconds");
                    std::process::exit(2);
                }
            },
            _ if a.starts_with('-') => eprintln!(
                "paired: ignoring {a} (this bench takes --rounds R, --pause-ms MS, --list and \
                 plain words that filter the case names)"
            ),
            _ => filter.push(a),
        }
    }
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|c| filter.is_empty() || filter.iter().any(|f| c.name().contains(f.as_str())))
        .collect();
    if list {
        for c in &selected {
            println!("paired/{}: bench", c.name());
        }
        return;
    }
    if selected.is_empty() {
        println!("paired: no case matches {filter:?} (`--list` shows them)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let peers = std::env::var_os("CORTICAL_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/peers"));
    let venv = std::env::var_os("PEERS_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/cortical-peers-venv"))
        });
    let python = venv.map(|v| v.join("bin/python"));
    let skip = |why: String| {
        println!("paired: skipped: {why}");
    };
    if !peers.join("bench_peers.py").is_file() {
        return skip(format!(
            "no peers folder at {} (set CORTICAL_PEERS)",
            peers.display()
        ));
    }
    let Some(python) = python.filter(|p| p.is_file()) else {
        return skip(
            "no peers' python (run ../shared/peers/setup.sh, or set PEERS_VENV)".to_string(),
        );
    };
    let mut peer = match Peer::start(&python, &peers) {
        Ok(p) => p,
        Err(e) => return skip(e),
    };
    let tmp = std::env::temp_dir().join(format!("cortical-paired-{}.f64", std::process::id()));
    let t0 = Instant::now();
    println!(
        "\n| case | input | ours | ours (median of block medians) | peer | peer / ours: median (range) over rounds | rounds |"
    );
    println!("|---|---|---|---|---|---|---|");
    let result = selected
        .into_iter()
        .try_for_each(|c| run_case(c, set, &mut peer, &tmp));
    let _ = std::fs::remove_file(&tmp);
    match result {
        Ok(()) => println!("\n(paired bench took {:.0} s)", t0.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("paired: {e}");
            std::process::exit(1);
        }
    }
}
