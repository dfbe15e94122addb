//! Hot numerical kernels of `cortical-priors`.
//!
//! Nothing in this crate knows about experiments, tasks or variants: every function takes
//! matrices or slices, writes into caller-owned outputs where it matters, and returns typed
//! errors ([`KernelError`]) for input a caller can get wrong.
//!
//! | module | what |
//! |---|---|
//! | [`expm`] | Padé scaling-and-squaring matrix exponential and its Fréchet derivative (and adjoint) |
//! | [`lu`] | dense LU with partial pivoting and its many-right-hand-side solve, as expm uses them |
//! | [`emd`] | O(n log n) 1-D Wasserstein-1 distance with subgradients |
//! | [`reg`] | masked wiring-cost regularizers, communicability and its vector–Jacobian product |
//! | [`rnn`] | batched RNN forward and BPTT backward (f32), softmax cross-entropy readout |
//! | [`simd`] | pulp-dispatched element-wise loops |
//! | [`gemm`] | thin strided GEMM entry points |
//! | [`isa`] | which instruction set the register-tile kernels run on (`CORTICAL_TILES` narrows it) |
//! | [`fpenv`] | flush-to-zero for subnormals, scoped to a thread |
//! | [`team`] | threads held for one kernel call: its parallel sections without a wake-up each |
//!
//! The crate root re-exports [`faer`], whose `MatRef`/`MatMut`/`Mat` are the matrix types of
//! the public API.
pub use faer;

pub mod emd;
pub mod error;
pub mod expm;
pub mod fpenv;
pub mod gemm;
pub mod isa;
#[cfg(target_arch = "x86_64")]
pub(crate) mod lanes;
pub mod lu;
pub mod packed;
pub mod reg;
pub mod rnn;
pub mod simd;
pub mod team;

pub use error::KernelError;
