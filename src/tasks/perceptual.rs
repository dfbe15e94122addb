//! Perceptual Decision-Making (METHOD.md §5), with neurogym's `PerceptualDecisionMaking`
//! conventions (neurogym/envs/perceptualdecisionmaking.py, `dim_ring = 2`):
//!
//! * channel 0 is the **fixation** input, 1 at every step (fixation, stimulus and delay; there is
//!   no decision period inside the 41 steps, the response is read at the last step);
//! * channels 1 and 2 are the two **evidence** inputs. neurogym sets
//!   `stim = cos(theta - theta[gt]) * coh/200 + 0.5` with `theta = [0, π]`, so for ground truth
//!   `k` channel `1 + k` carries `0.5 + coh/200` and the other `0.5 − coh/200`;
//!   the class label is `k` (neurogym's action `1 + k`, "choice k");
//! * the evidence channels are 0 outside the stimulus period, and during it each step of each
//!   channel gets its own N(0, 0.1²) sample (the task's stimulus noise, not the trainer's input
//!   noise).
//!
//! dt = 100 ms: step 0 fixation, steps 1–30 stimulus (3 s), steps 31–40 delay. The coherence (in
//! %) is drawn from {0, 6.4, 12.8, 25.6, 51.2}; at 0 % the label is still drawn uniformly and the
//! stimulus carries no information.
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{set_channel, TaskData, TaskShape};

/// Shape: 41 steps, 3 channels, 2 classes, 10 conditions (class × coherence).
pub const PERCEPTUAL: TaskShape = TaskShape {
    steps: 41,
    channels: 3,
    classes: 2,
    conditions: 10,
};

/// Coherence levels in percent.
pub const PERCEPTUAL_COHERENCES: [f64; 5] = [0.0, 6.4, 12.8, 25.6, 51.2];

/// Standard deviation of the stimulus noise on the evidence channels.
pub const PERCEPTUAL_NOISE_STD: f64 = 0.1;

const STIMULUS_STEPS: std::ops::Range<usize> = 1..31;

pub(super) fn fill(d: &mut TaskData, conditions: &[u32], rng: &mut Xoshiro256PlusPlus) {
    // σ = 0.1 is finite and positive, so Normal::new cannot fail.
    let noise = Normal::new(0.0f64, PERCEPTUAL_NOISE_STD).expect("valid normal");
    for (trial, &c) in conditions.iter().enumerate() {
        let class = (c % 2) as usize;
        let coh_idx = (c / 2) as usize;
        let half = PERCEPTUAL_COHERENCES[coh_idx] / 200.0;
        set_channel(d, trial, 0, 0..d.steps, 1.0);
        // Trial-major draw order (trial, step, channel 1 then 2): the noise of a trial does not
        // depend on how many trials the set holds after it.
        for t in STIMULUS_STEPS {
            for ch in 1..3 {
                let mean = if ch == 1 + class {
                    0.5 + half
                } else {
                    0.5 - half
                };
                let v = mean + noise.sample(rng);
                let o = (t * d.batch + trial) * d.channels + ch;
                d.x[o] = v as f32;
            }
        }
        d.labels[trial] = class as u32;
        d.conditions[trial] = coh_idx as u32;
    }
}
