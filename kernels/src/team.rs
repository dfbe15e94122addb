//! A team of threads held for the length of one kernel call, so that the call's many short
//! parallel sections do not each pay for waking a sleeping thread.
//!
//! One matrix exponential at n = 64–512 is a sequence of a few dozen sections — products,
//! column passes, the LU's solve — each 5 µs to 3 ms long, separated by sequential work (the
//! LU itself, the norm tests). Run through rayon, every section forks and joins, and between
//! sections rayon's idle worker goes back to sleep on a futex; on the 2-core guest this crate
//! is measured on, that round trip cost more than the second core gave: `expm_into` at
//! n = 128, ‖A‖₁ = 1 took 480–506 µs on one rayon thread and 732–782 µs on two (a scratch
//! program, mean of 2000 calls, 2026-12-03 10:47 UTC; `perf` put 30% of the samples in the
//! scheduler's futex wait and wake), and at n = 256 the two were level (3.45 and 3.52 ms).
//!
//! [`with_team`] instead gives a call up to `threads − 1` rayon workers, which spin on one
//! shared word while the call lasts; [`for_each_part`] hands out the parts of a section through
//! that word. Parts are claimed, not assigned: the calling thread claims parts too, so a section
//! finishes even if no helper has arrived yet (waking a sleeping worker took 50–75 µs here) or
//! ever arrives (every worker busy elsewhere), and a helper that arrives late joins in. Which
//! thread runs a part never changes what the part computes, so results do not depend on the
//! team's size or timing.
//!
//! The call never waits for its helpers to start or to leave. They are detached rayon jobs
//! holding the calling thread's team state (one per thread, kept between calls); when the call
//! ends they keep spinning for [`LINGER`] in case the same thread starts another call, and then
//! go back to the pool. A call that finds its helpers still lingering starts no new ones (so
//! back-to-back calls pay no wake-up); one that must start a helper lets rayon allocate that
//! job (a few dozen bytes), the only allocation a team makes after its thread's first call.
//!
//! Helpers run their parts in the calling thread's subnormal mode ([`crate::fpenv`]), whatever
//! the mode their pool set on them, and return to their own mode when they leave.
//!
//! Outside a team, [`for_each_part`] runs the parts on rayon (fork/join).
use crate::fpenv;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a helper keeps spinning after its call ended, waiting for the same thread's next
/// call, before it goes back to the rayon pool.
pub const LINGER: Duration = Duration::from_micros(200);

/// Most parts one section may have (each part's piece of work lives in a fixed array on the
/// caller's stack, so that no section allocates).
pub const MAX_PARTS: usize = 16;

/// A section's work: `f(part)` for each part in `0..parts`.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// The state the team spins on. `state` packs the section's epoch (upper 32 bits), its number
/// of parts (16 bits) and the next unclaimed part (low 16 bits), so that a claim (a
/// compare-and-swap of the whole word) can only succeed on a section that still has that part
/// unclaimed — and while any part is unclaimed the caller has not yet moved on, so `job` still
/// points at that section's closure.
struct Shared {
    state: AtomicU64,
    /// `*const Job` of the current section (a thin pointer to the caller's fat reference).
    job: AtomicPtr<()>,
    /// Parts of the current section finished.
    done: AtomicUsize,
    /// Clear while a call of the owning thread runs; set when it ends (also by unwinding).
    idle: AtomicBool,
    /// Helpers started and not yet gone back to the pool.
    alive: AtomicUsize,
    /// The first panic of a part (on any thread); the caller re-raises it after the section.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The calling thread and the helpers the running call asked for.
    size: AtomicUsize,
    /// Whether the calling thread flushes subnormals ([`crate::fpenv`]): a helper runs its
    /// parts in the caller's mode, so that a part computes the same on any thread.
    flush: AtomicBool,
}

const PARTS_SHIFT: u32 = 16;
const EPOCH_SHIFT: u32 = 32;
const FIELD: u64 = 0xffff;

fn decode(s: u64) -> (u64, usize, usize) {
    (
        s >> EPOCH_SHIFT,
        ((s >> PARTS_SHIFT) & FIELD) as usize,
        (s & FIELD) as usize,
    )
}

impl Shared {
    /// Claim and run parts of the section in `state` until none is left unclaimed; returns
    /// whether it ran any.
    fn claim_and_run(&self) -> bool {
        let mut ran = false;
        loop {
            let s = self.state.load(SeqCst);
            let (_, parts, next) = decode(s);
            if next >= parts {
                return ran;
            }
            let job = self.job.load(SeqCst) as *const Job;
            if self
                .state
                .compare_exchange(s, s + 1, SeqCst, SeqCst)
                .is_err()
            {
                continue;
            }
            // SAFETY: the claim succeeded, so part `next` of this epoch was unclaimed from the
            // load of `s` until now; the caller does not return from `for_each_part` (which
            // owns the closure behind `job`) nor publish another section before every part,
            // this one included, is done.
            let job: Job = unsafe { *job };
            let flush = self.flush.load(SeqCst);
            if fpenv::flushes_denormals() != flush {
                fpenv::set_flush_denormals(flush);
            }
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(next))) {
                let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(payload);
            }
            self.done.fetch_add(1, SeqCst);
            ran = true;
        }
    }

    /// What a helper runs: serve calls of the owning thread until none has come for
    /// [`LINGER`]. A thread that already belongs to a team (the owner itself, had rayon handed
    /// it this job, or a helper of another team) returns at once: spinning there could wait for
    /// a call that only the thread itself would make. On a helper, a section started by a part
    /// runs its sub-parts in order.
    fn helper_loop(self: Arc<Self>) {
        let on_team = !CURRENT.with(|c| c.get().0.is_null())
            || OWN.with(|o| {
                o.borrow()
                    .as_ref()
                    .is_some_and(|own| Arc::ptr_eq(own, &self))
            });
        if !on_team {
            let _restore = Restore(CURRENT.with(|c| c.replace((Arc::as_ptr(&self), true))));
            // Parts switch this thread to the caller's subnormal mode; put its own back after.
            let own_flush = fpenv::flushes_denormals();
            let mut idle_since: Option<Instant> = None;
            let mut spins = 0u32;
            loop {
                if !self.idle.load(SeqCst) {
                    idle_since = None;
                    if self.claim_and_run() {
                        continue;
                    }
                } else {
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(64) {
                        let since = *idle_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= LINGER {
                            break;
                        }
                    }
                }
                std::hint::spin_loop();
            }
            fpenv::set_flush_denormals(own_flush);
        }
        self.alive.fetch_sub(1, SeqCst);
    }
}

thread_local! {
    /// The team this thread leads, if any, and whether a section of it is running (a part that
    /// itself calls [`for_each_part`] runs its sub-parts in order).
    static CURRENT: Cell<(*const Shared, bool)> = const { Cell::new((std::ptr::null(), false)) };
    /// This thread's team state, kept between its calls (its helpers hold it too).
    static OWN: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Marks the team idle when the call ends, also by unwinding, so that its helpers linger and
/// leave instead of waiting for sections.
struct IdleOnDrop<'a>(&'a Shared);
impl Drop for IdleOnDrop<'_> {
    fn drop(&mut self) {
        self.0.idle.store(true, SeqCst);
    }
}

/// Restores the thread's previous team when the call ends.
struct Restore((*const Shared, bool));
impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` on this thread with a team of up to `threads` threads (this one and
/// `threads − 1` rayon workers, capped by the pool's size and [`MAX_PARTS`]) serving every
/// [`for_each_part`] that `f` makes on this thread. With `threads ≤ 1`, a one-thread pool, or
/// inside another team, `f` just runs (its sections then run in order, or on rayon outside a
/// team).
///
/// The helpers spin (with `spin_loop` hints) while `f`'s sequential stretches run, and for
/// [`LINGER`] after it returns, so a team is for calls whose sections are close together.
pub fn with_team<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    let helpers = threads
        .min(rayon::current_num_threads())
        .min(MAX_PARTS)
        .saturating_sub(1);
    if helpers == 0 || !CURRENT.with(|c| c.get().0.is_null()) {
        return f();
    }
    let shared = OWN.with(|o| {
        Arc::clone(o.borrow_mut().get_or_insert_with(|| {
            Arc::new(Shared {
                state: AtomicU64::new(0),
                job: AtomicPtr::new(std::ptr::null_mut()),
                done: AtomicUsize::new(0),
                idle: AtomicBool::new(true),
                alive: AtomicUsize::new(0),
                panic: Mutex::new(None),
                size: AtomicUsize::new(1),
                flush: AtomicBool::new(false),
            })
        }))
    });
    shared.size.store(helpers + 1, SeqCst);
    shared.flush.store(fpenv::flushes_denormals(), SeqCst);
    shared.idle.store(false, SeqCst);
    let _idle = IdleOnDrop(&shared);
    // Helpers still lingering from this thread's last call serve this one; start the rest.
    // (One that is just leaving may be counted and leave anyway: this call then has a helper
    // fewer, which changes its speed, not its result.)
    let alive = shared.alive.load(SeqCst);
    for _ in alive..helpers {
        shared.alive.fetch_add(1, SeqCst);
        let helper = Arc::clone(&shared);
        rayon::spawn(move || helper.helper_loop());
    }
    let _restore = Restore(CURRENT.with(|c| c.replace((Arc::as_ptr(&shared), false))));
    f()
}

/// Threads in this thread's team (1 outside a team; at most [`MAX_PARTS`]).
pub fn team_size() -> usize {
    let (shared, _) = CURRENT.with(|c| c.get());
    // SAFETY: a non-null pointer is the `Shared` of a `with_team` still running on this thread.
    unsafe { shared.as_ref() }.map_or(1, |s| s.size.load(SeqCst))
}

/// `f(i, &mut items[i])` for every item, in parallel: on this thread's team inside
/// [`with_team`] (this thread takes parts too), otherwise by rayon fork/join. Each item is
/// handed to exactly one call. At most [`MAX_PARTS`] items.
///
/// # Panics
/// If there are more than [`MAX_PARTS`] items; a part's panic is re-raised on this thread once
/// every part has ended.
pub fn for_each_part<S: Send>(items: &mut [S], f: impl Fn(usize, &mut S) + Sync) {
    let parts = items.len();
    assert!(
        parts <= MAX_PARTS,
        "team::for_each_part: {parts} parts, at most {MAX_PARTS}"
    );
    if parts <= 1 {
        if let Some(item) = items.first_mut() {
            f(0, item);
        }
        return;
    }
    let (shared, busy) = CURRENT.with(|c| c.get());
    if shared.is_null() {
        rayon_parts(items, 0, &f);
        return;
    }
    if busy {
        for (i, item) in items.iter_mut().enumerate() {
            f(i, item);
        }
        return;
    }
    // SAFETY: see `team_size`.
    let shared = unsafe { &*shared };
    let base = SendPtr(items.as_mut_ptr());
    let run = move |i: usize| {
        // SAFETY: `i < parts` and each part index is claimed exactly once, so every item is
        // borrowed mutably by one call only, and `items` outlives the section.
        let item = unsafe { &mut *base.get().add(i) };
        f(i, item);
    };
    let job: Job = &run;
    CURRENT.with(|c| c.set((shared as *const Shared, true)));
    let _restore = Restore((shared as *const Shared, false));
    shared.done.store(0, SeqCst);
    shared.job.store(&job as *const Job as *mut (), SeqCst);
    // The epoch wraps after 2³² sections; a claim could only be confused by a helper stalled
    // between its load and its compare-and-swap for all of them.
    let epoch = (decode(shared.state.load(SeqCst)).0 + 1) & 0xffff_ffff;
    shared.state.store(
        (epoch << EPOCH_SHIFT) | ((parts as u64) << PARTS_SHIFT),
        SeqCst,
    );
    shared.claim_and_run();
    while shared.done.load(SeqCst) < parts {
        std::hint::spin_loop();
    }
    let payload = shared
        .panic
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

/// `x`, of length `len` (columns, entries, …), cut into `parts` consecutive pieces of near-equal
/// length (piece p ends at ⌊len·(p + 1)/parts⌋), each with its offset, by `split(x, at)`
/// returning the first `at` and the rest: the items of a [`for_each_part`] over `x`.
///
/// # Panics
/// If `parts` is 0 or more than [`MAX_PARTS`].
pub fn split_even<S>(
    len: usize,
    parts: usize,
    x: S,
    split: impl Fn(S, usize) -> (S, S),
) -> [Option<(usize, S)>; MAX_PARTS] {
    assert!(
        (1..=MAX_PARTS).contains(&parts),
        "team::split_even: {parts} parts, expected 1 to {MAX_PARTS}"
    );
    let mut pieces: [Option<(usize, S)>; MAX_PARTS] = std::array::from_fn(|_| None);
    let (mut rest, mut j0) = (Some(x), 0);
    for (p, piece) in pieces[..parts].iter_mut().enumerate() {
        let j1 = len * (p + 1) / parts;
        let (head, tail) = split(rest.take().expect("a rest remains"), j1 - j0);
        *piece = Some((j0, head));
        (rest, j0) = (Some(tail), j1);
    }
    pieces
}

/// `f(offset, piece)` on the `parts` pieces [`split_even`] cuts `x` into, in parallel as
/// [`for_each_part`] runs them, the pieces' results folded by `combine` in the pieces' order.
///
/// # Panics
/// If `parts` is 0 or more than [`MAX_PARTS`]; a part's panic is re-raised as
/// [`for_each_part`] does.
pub fn map_split_even<S: Send, R: Send>(
    len: usize,
    parts: usize,
    x: S,
    split: impl Fn(S, usize) -> (S, S),
    f: &(impl Fn(usize, S) -> R + Sync),
    combine: impl Fn(R, R) -> R,
) -> R {
    let mut blocks = split_even(len, parts, x, split).map(|piece| (piece, None));
    for_each_part(&mut blocks[..parts], |_, (piece, result)| {
        *result = piece.take().map(|(offset, piece)| f(offset, piece));
    });
    blocks[..parts]
        .iter_mut()
        .map(|b| b.1.take().expect("every piece ran"))
        .reduce(combine)
        .expect("at least one piece")
}

/// Raw pointer to the items, shared by the parts (each dereferences its own index only).
struct SendPtr<S>(*mut S);
impl<S> Clone for SendPtr<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for SendPtr<S> {}
// SAFETY: the pointer is only used to hand each item to one part (see `for_each_part`), and
// `S: Send`.
unsafe impl<S: Send> Send for SendPtr<S> {}
unsafe impl<S: Send> Sync for SendPtr<S> {}
impl<S> SendPtr<S> {
    fn get(self) -> *mut S {
        self.0
    }
}

fn rayon_parts<S: Send>(items: &mut [S], i0: usize, f: &(impl Fn(usize, &mut S) + Sync)) {
    match items.len() {
        0 => {}
        1 => f(i0, &mut items[0]),
        len => {
            let (a, b) = items.split_at_mut(len / 2);
            rayon::join(|| rayon_parts(a, i0, f), || rayon_parts(b, i0 + len / 2, f));
        }
    }
}
