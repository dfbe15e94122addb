//! The thread's floating-point environment: flushing subnormals to zero.
//!
//! A ReLU RNN whose activity decays (an untrained random network, or one whose recurrence a
//! regularizer drives to zero) fills its state with subnormal numbers, and x86 cores take a
//! micro-code assist on every arithmetic operation that reads or produces one: measured here,
//! the median training step of variant `W` on field 6_6_2 (N = 312, B = 128, T = 50) went from
//! 55 ms in the first epochs to 249 ms once the state had decayed. TensorFlow, whose Keras
//! semantics the training loop follows, runs every kernel with subnormals flushed
//! (`tensorflow/core/platform/denormal.h`, `ScopedFlushDenormal`, set by the Eigen thread pool
//! of its executor), so flushing is also what the paper's numbers were computed with.
//!
//! [`FlushDenormals`] sets flush-to-zero (results) and denormals-are-zero (inputs) on the
//! current thread and restores the previous mode when dropped. It affects only the thread it
//! is created on: a thread pool needs it on each worker (e.g. in rayon's `start_handler`, see
//! [`set_flush_denormals`]). On targets other than x86-64 and AArch64 it does nothing.

/// Scoped flush-to-zero / denormals-are-zero on the current thread.
#[must_use = "the mode is restored when the guard is dropped"]
pub struct FlushDenormals {
    previous: u64,
    // The mode is per thread: the guard must be dropped on the thread that created it.
    _not_send: core::marker::PhantomData<*const ()>,
}

impl FlushDenormals {
    /// Turn flushing on for the current thread until the guard is dropped.
    pub fn new() -> Self {
        let previous = imp::get();
        imp::set(imp::with_flush(previous, true));
        FlushDenormals {
            previous,
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        imp::set(self.previous);
    }
}

/// Turn flushing on or off for the rest of the current thread's life (for thread-pool start
/// handlers, where no scope outlives the worker).
pub fn set_flush_denormals(on: bool) {
    imp::set(imp::with_flush(imp::get(), on));
}

/// Whether the current thread flushes subnormals (false where the target has no such mode).
pub fn flushes_denormals() -> bool {
    imp::is_flushing(imp::get())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::asm;
    // MXCSR: bit 15 flush-to-zero, bit 6 denormals-are-zero (Intel SDM vol. 1, §10.2.3).
    const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

    pub fn get() -> u64 {
        let mut csr: u32 = 0;
        // SAFETY: `stmxcsr` stores the 32-bit MXCSR to the given, valid, aligned location.
        unsafe { asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
        csr as u64
    }

    pub fn set(csr: u64) {
        let csr = csr as u32;
        // SAFETY: the value was read from MXCSR and only the FTZ/DAZ bits were changed, so no
        // reserved bit is set (which would fault) and exception masks are untouched.
        unsafe { asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags)) };
    }

    pub fn with_flush(csr: u64, on: bool) -> u64 {
        if on {
            csr | FTZ_DAZ as u64
        } else {
            csr & !(FTZ_DAZ as u64)
        }
    }

    pub fn is_flushing(csr: u64) -> bool {
        csr as u32 & FTZ_DAZ == FTZ_DAZ
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use core::arch::asm;
    // FPCR bit 24: flush-to-zero, for inputs and results (Arm ARM, FPCR.FZ).
    const FZ: u64 = 1 << 24;

    pub fn get() -> u64 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effects.
        unsafe { asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags)) };
        fpcr
    }

    pub fn set(fpcr: u64) {
        // SAFETY: the value was read from FPCR and only the FZ bit was changed.
        unsafe { asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags)) };
    }

    pub fn with_flush(fpcr: u64, on: bool) -> u64 {
        if on {
            fpcr | FZ
        } else {
            fpcr & !FZ
        }
    }

    pub fn is_flushing(fpcr: u64) -> bool {
        fpcr & FZ != 0
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub fn get() -> u64 {
        0
    }
    pub fn set(_: u64) {}
    pub fn with_flush(mode: u64, _: bool) -> u64 {
        mode
    }
    pub fn is_flushing(_: u64) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn guard_flushes_and_restores() {
        // black_box keeps the products from being folded at compile time.
        let tiny = core::hint::black_box(f32::MIN_POSITIVE);
        let half = core::hint::black_box(0.5f32);
        assert!(!flushes_denormals());
        assert!((tiny * half).is_subnormal());
        {
            let _g = FlushDenormals::new();
            assert!(flushes_denormals());
            assert_eq!(tiny * half, 0.0);
            let sub = core::hint::black_box(f32::from_bits(1));
            // denormals-are-zero: a subnormal input reads as 0.
            assert_eq!(sub * core::hint::black_box(2.0f32), 0.0);
        }
        assert!(!flushes_denormals());
        assert!((tiny * half).is_subnormal());
    }
}
