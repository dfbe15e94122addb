//! The team of threads a kernel call holds (`cortical_kernels::team`): every part of every
//! section runs exactly once and sees its own item, whether the helpers are there, late or
//! busy elsewhere; panics come back to the caller; nesting runs in order; and expm computed on
//! a team gives the bits it gives on one thread.
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;

use cortical_kernels::expm::{expm, expm_frechet, PAR_MIN_N};
use cortical_kernels::faer::Mat;
use cortical_kernels::team::{for_each_part, split_even, team_size, with_team, MAX_PARTS};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Many short sections of every width: each item is handed to exactly one call, with its own
/// index, and the caller sees every write once the section returns.
fn run_sections(sections: usize) {
    for s in 0..sections {
        let parts = 1 + s % MAX_PARTS;
        let mut items: Vec<(usize, usize)> = (0..parts).map(|i| (i, 0)).collect();
        let calls = AtomicUsize::new(0);
        for_each_part(&mut items, |i, item| {
            assert_eq!(item.0, i, "part {i} got item {}", item.0);
            item.1 += 1 + s;
            calls.fetch_add(1, SeqCst);
        });
        assert_eq!(calls.load(SeqCst), parts, "section {s}");
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.1, 1 + s, "section {s}, item {i}");
        }
    }
}

#[test]
fn every_part_runs_once_on_teams_of_every_size() {
    for threads in [1, 2, 3, 4] {
        pool(threads).install(|| {
            with_team(usize::MAX, || {
                assert_eq!(team_size(), threads, "team in a {threads}-thread pool");
                run_sections(2000);
            });
            // Capped by the request.
            with_team(2, || assert_eq!(team_size(), threads.min(2)));
            // Outside a team the sections run on rayon.
            assert_eq!(team_size(), 1);
            run_sections(200);
        });
    }
    // From a thread outside every pool (the global pool's workers help).
    with_team(usize::MAX, || run_sections(500));
}

#[test]
fn back_to_back_calls_reuse_the_team() {
    pool(2).install(|| {
        for _ in 0..300 {
            with_team(2, || run_sections(3));
        }
    });
}

/// The only other worker is blocked for the whole call: the caller must take every part
/// itself rather than wait for a helper that cannot come.
#[test]
fn sections_finish_when_no_helper_can_come() {
    let p = pool(2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    p.spawn(move || {
        started_tx.send(()).expect("send");
        release_rx.recv().expect("recv");
    });
    started_rx.recv().expect("the blocker started");
    p.install(|| with_team(2, || run_sections(100)));
    release_tx.send(()).expect("release");
}

#[test]
fn a_part_that_starts_a_section_runs_it_in_order() {
    pool(3).install(|| {
        with_team(3, || {
            let mut outer: Vec<Vec<usize>> = vec![vec![0; 5]; 6];
            for_each_part(&mut outer, |i, inner| {
                for_each_part(inner, |j, x| *x = 10 * i + j);
                // A team inside a team is the enclosing one (or none on a helper): it just runs.
                with_team(4, || assert!(team_size() >= 1));
            });
            for (i, inner) in outer.iter().enumerate() {
                let want: Vec<usize> = (0..5).map(|j| 10 * i + j).collect();
                assert_eq!(inner, &want);
            }
        });
    });
}

#[test]
fn a_panicking_part_reaches_the_caller_and_the_team_survives() {
    pool(2).install(|| {
        with_team(2, || {
            for bad in 0..4 {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut items = [0u8; 4];
                    for_each_part(&mut items, |i, _| {
                        if i == bad {
                            panic!("part {i} failed on purpose");
                        }
                    });
                }));
                let payload = r.expect_err("the panic must reach the caller");
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(msg, format!("part {bad} failed on purpose"));
            }
            run_sections(50);
        });
    });
}

#[test]
fn more_parts_than_the_limit_is_a_named_panic() {
    let r = std::panic::catch_unwind(|| {
        let mut items = vec![0u8; MAX_PARTS + 1];
        for_each_part(&mut items, |_, _| {});
    });
    let payload = r.expect_err("must panic");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("team::for_each_part") && msg.contains(&format!("{}", MAX_PARTS + 1)),
        "{msg}"
    );
}

fn gaussian(n: usize, norm1: f64, seed: u64) -> Mat<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut a = Mat::<f64>::from_fn(n, n, |_, _| next());
    let colmax = (0..n)
        .map(|j| (0..n).map(|i| a[(i, j)].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    for j in 0..n {
        for i in 0..n {
            a[(i, j)] *= norm1 / colmax;
        }
    }
    a
}

/// expm and its Fréchet derivative on teams of 2 and 3 threads (products, passes and the solve
/// split over them, sizes not divisible by the team; the tile products of n ≤ 96 too) give the
/// bits of the one-thread call, in f64 and f32.
#[test]
fn expm_on_a_team_gives_the_bits_of_one_thread() {
    // PAR_MIN_N ≤ 96: its products are on the tiles (in f64) where the CPU has them.
    for (n, norm) in [
        (PAR_MIN_N, 1.0),
        (PAR_MIN_N, 50.0),
        (PAR_MIN_N + 37, 50.0),
        (301, 1.0),
    ] {
        let a = gaussian(n, norm, 3 + n as u64);
        let e = gaussian(n, 1.0, 4 + n as u64);
        let one = pool(1).install(|| (expm(a.as_ref()), expm_frechet(a.as_ref(), e.as_ref())));
        for threads in [2, 3] {
            let team =
                pool(threads).install(|| (expm(a.as_ref()), expm_frechet(a.as_ref(), e.as_ref())));
            assert!(team.0 == one.0, "expm, n = {n}, {threads} threads");
            assert!(
                team.1 .0 == one.1 .0 && team.1 .1 == one.1 .1,
                "Fréchet, n = {n}, {threads} threads"
            );
        }
        // f32, whose LU and solve up to n = 512 are the AVX-512 tiles where the CPU has them (by
        // panels above 192, the updates on the team)
        // (the solve's column blocks then go to the team).
        let a32 = Mat::<f32>::from_fn(n, n, |i, j| a[(i, j)] as f32);
        let e32 = Mat::<f32>::from_fn(n, n, |i, j| e[(i, j)] as f32);
        let run32 = || (expm(a32.as_ref()), expm_frechet(a32.as_ref(), e32.as_ref()));
        let one = pool(1).install(run32);
        for threads in [2, 3] {
            let team = pool(threads).install(run32);
            assert!(team.0 == one.0, "f32 expm, n = {n}, {threads} threads");
            assert!(
                team.1 .0 == one.1 .0 && team.1 .1 == one.1 .1,
                "f32 Fréchet, n = {n}, {threads} threads"
            );
        }
    }
}

/// A part computes in the caller's subnormal mode on every thread: flushed when the caller
/// flushes (its pool's workers do not), kept when it does not (its pool's workers do).
#[test]
fn parts_run_in_the_callers_subnormal_mode() {
    use cortical_kernels::fpenv::{flushes_denormals, set_flush_denormals, FlushDenormals};
    let tiny = std::hint::black_box(1e-300f64);
    let scale = std::hint::black_box(1e-10f64);
    for caller_flushes in [true, false] {
        let p = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .start_handler(move |_| set_flush_denormals(!caller_flushes))
            .build()
            .expect("thread pool");
        p.install(|| {
            let _guard = caller_flushes.then(FlushDenormals::new);
            if !caller_flushes {
                set_flush_denormals(false);
            }
            with_team(3, || {
                for _ in 0..200 {
                    let mut out = [(1.0f64, false); 12];
                    for_each_part(&mut out, |_, o| *o = (tiny * scale, flushes_denormals()));
                    for (x, flushed) in out {
                        assert_eq!(flushed, caller_flushes);
                        assert_eq!(x == 0.0, caller_flushes, "1e-300 · 1e-10 gave {x:e}");
                    }
                }
            });
            set_flush_denormals(!caller_flushes);
        });
    }
}

#[test]
fn split_even_cuts_consecutive_near_equal_pieces() {
    for len in [0usize, 1, 5, 16, 301] {
        for parts in 1..=MAX_PARTS {
            let v: Vec<usize> = (0..len).collect();
            let pieces = split_even(len, parts, &v[..], |s, at| s.split_at(at));
            let mut next = 0;
            for (p, piece) in pieces.iter().enumerate() {
                match piece {
                    Some((j0, s)) => {
                        assert!(p < parts);
                        assert_eq!(*j0, next, "len {len}, {parts} parts, piece {p}");
                        assert_eq!(s.first().copied().unwrap_or(next), next);
                        assert!(s.len() == len / parts || s.len() == len / parts + 1);
                        next += s.len();
                    }
                    None => assert!(p >= parts),
                }
            }
            assert_eq!(next, len);
        }
    }
    assert!(std::panic::catch_unwind(|| split_even(4, 0, 0u8, |x, _| (x, x))).is_err());
}

/// A tile product (`matmul_tiles`, every dimension ≤ 96 in f64) split over a team gives the
/// bits of the one-thread product, with and without alpha, replacing or adding. (Where the
/// tiles do not run, `matmul_tiles` is faer's product on the team, which gives the sequential
/// bits only for the shapes of `matmul_on_a_team_gives_the_sequential_bits`.)
#[test]
fn tile_products_on_a_team_give_the_one_thread_bits() {
    use cortical_kernels::faer::Accum;
    use cortical_kernels::gemm::{matmul_tiles, TILES_MIN_PART_COLS};
    if cortical_kernels::isa::tiles_isa().is_none() {
        eprintln!(
            "skipped: the tiles do not run here \
             (a CPU without AVX-512F or AVX2 + FMA, or CORTICAL_TILES=none)"
        );
        return;
    }
    for (m, k, n) in [
        (64, 64, 64),
        (96, 96, 96),
        (77, 50, 2 * TILES_MIN_PART_COLS + 1),
        (9, 5, 96),
    ] {
        let a = gaussian(m.max(k), 1.0, 21).submatrix(0, 0, m, k).to_owned();
        let b = gaussian(k.max(n), 1.0, 22).submatrix(0, 0, k, n).to_owned();
        let c0 = gaussian(m.max(n), 1.0, 23).submatrix(0, 0, m, n).to_owned();
        for (accum, alpha) in [(Accum::Replace, 1.0), (Accum::Add, 0.75)] {
            let mut want = c0.clone();
            pool(1).install(|| matmul_tiles(want.as_mut(), accum, a.as_ref(), b.as_ref(), alpha));
            for threads in [2, 3] {
                let mut got = c0.clone();
                pool(threads).install(|| {
                    with_team(threads, || {
                        matmul_tiles(got.as_mut(), accum, a.as_ref(), b.as_ref(), alpha)
                    })
                });
                assert!(got == want, "{m}×{k}×{n}, {threads} threads");
            }
        }
    }
}

/// A product split over a team gives every column the bits of the one sequential product.
#[test]
fn matmul_on_a_team_gives_the_sequential_bits() {
    use cortical_kernels::faer::linalg::matmul::matmul;
    use cortical_kernels::faer::{Accum, Par};
    use cortical_kernels::gemm::matmul_on_team;
    for (m, k, n) in [
        (7, 5, 3),
        (7, 5, 40),
        (33, 17, 40),
        (128, 128, 128),
        (301, 97, 133),
    ] {
        let a = gaussian(m.max(k), 1.0, 11).submatrix(0, 0, m, k).to_owned();
        let b = gaussian(k.max(n), 1.0, 12).submatrix(0, 0, k, n).to_owned();
        let c0 = gaussian(m.max(n), 1.0, 13).submatrix(0, 0, m, n).to_owned();
        for accum in [Accum::Replace, Accum::Add] {
            let mut want = c0.clone();
            matmul(want.as_mut(), accum, a.as_ref(), b.as_ref(), 0.75, Par::Seq);
            for threads in [1, 2, 3] {
                let mut got = c0.clone();
                pool(threads).install(|| {
                    with_team(threads, || {
                        matmul_on_team(got.as_mut(), accum, a.as_ref(), b.as_ref(), 0.75)
                    })
                });
                assert!(got == want, "{m}×{k}×{n}, {threads} threads");
            }
        }
    }
}
