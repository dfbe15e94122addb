//! Go/NoGo (METHOD.md §5): 40 steps, 3 channels, classes NoGo = 0 and Go = 1.
//!
//! Steps 0–4 fixation `[1,0,0]`; steps 5–24 stimulus `[0,1,0]` (NoGo) or `[0,0,1]` (Go);
//! steps 25–34 delay `[1,0,0]`; steps 35–39 decision `[0,0,0]`.
use super::{set_channel, TaskData, TaskShape};

/// Shape: 40 steps, 3 channels, 2 classes.
pub const GO_NO_GO: TaskShape = TaskShape {
    steps: 40,
    channels: 3,
    classes: 2,
    conditions: 2,
};

pub(super) fn fill(d: &mut TaskData, conditions: &[u32]) {
    for (trial, &c) in conditions.iter().enumerate() {
        set_channel(d, trial, 0, 0..5, 1.0);
        set_channel(d, trial, 1 + c as usize, 5..25, 1.0);
        set_channel(d, trial, 0, 25..35, 1.0);
        d.labels[trial] = c;
        d.conditions[trial] = c;
    }
}
