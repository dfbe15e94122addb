//! One-Choice Inference (seRNN; METHOD.md §5).
//!
//! 50 steps, 8 binary channels. Steps 0–19: the goal, one of channels 0–3 (goal location 7 → 0,
//! 9 → 1, 17 → 2, 19 → 3). Steps 20–29: delay, all zeros. Steps 30–49: the two offered moves on
//! channels 4–7 in the order l, u, r, d. The answer is the offered move that leads towards the
//! goal. Classes: l = 0, u = 1, r = 2, d = 3. Eight fixed problems.
use super::{set_channel, TaskData, TaskShape};

/// Shape of One-Choice Inference: 50 steps, 8 channels, 4 classes, 8 problems.
pub const ONE_CHOICE: TaskShape = TaskShape {
    steps: 50,
    channels: 8,
    classes: 4,
    conditions: 8,
};

const GOAL_STEPS: std::ops::Range<usize> = 0..20;
const CHOICE_STEPS: std::ops::Range<usize> = 30..50;

/// One problem: a goal location and two offered moves; the answer is one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneChoiceProblem {
    /// Goal location on seRNN's 5×5 grid (7, 9, 17 or 19).
    pub goal: u32,
    /// The two offered moves, classes (l = 0, u = 1, r = 2, d = 3).
    pub choices: [u32; 2],
    /// The correct move (a class).
    pub answer: u32,
}

impl OneChoiceProblem {
    /// Input channel of the goal (0–3).
    pub fn goal_channel(&self) -> usize {
        match self.goal {
            7 => 0,
            9 => 1,
            17 => 2,
            _ => 3, // 19: the table below holds no other goal
        }
    }
}

const L: u32 = 0;
const U: u32 = 1;
const R: u32 = 2;
const D: u32 = 3;

/// The eight problems: goal `{9,9,19,17,17,7,19,7}`, choices `{ul,rd,ld,rd,ul,ur,lr,lr}`,
/// answer `{u,r,d,d,l,u,r,l}`.
pub const ONE_CHOICE_PROBLEMS: [OneChoiceProblem; 8] = [
    OneChoiceProblem {
        goal: 9,
        choices: [U, L],
        answer: U,
    },
    OneChoiceProblem {
        goal: 9,
        choices: [R, D],
        answer: R,
    },
    OneChoiceProblem {
        goal: 19,
        choices: [L, D],
        answer: D,
    },
    OneChoiceProblem {
        goal: 17,
        choices: [R, D],
        answer: D,
    },
    OneChoiceProblem {
        goal: 17,
        choices: [U, L],
        answer: L,
    },
    OneChoiceProblem {
        goal: 7,
        choices: [U, R],
        answer: U,
    },
    OneChoiceProblem {
        goal: 19,
        choices: [L, R],
        answer: R,
    },
    OneChoiceProblem {
        goal: 7,
        choices: [L, R],
        answer: L,
    },
];

pub(super) fn fill(d: &mut TaskData, conditions: &[u32]) {
    for (trial, &c) in conditions.iter().enumerate() {
        let p = &ONE_CHOICE_PROBLEMS[c as usize];
        set_channel(d, trial, p.goal_channel(), GOAL_STEPS, 1.0);
        for &m in &p.choices {
            set_channel(d, trial, 4 + m as usize, CHOICE_STEPS, 1.0);
        }
        d.labels[trial] = p.answer;
        d.conditions[trial] = c;
    }
}

/// Best accuracy of any strategy that sees only the offered moves (not the goal), with the eight
/// problems equally likely: for each distinct pair of offered moves, answer the most frequent
/// correct move among the problems showing that pair. METHOD.md says this is 0.625, the plateau
/// a network reaches when it forgets the goal across the delay.
pub fn goal_blind_ceiling() -> f64 {
    let mut correct = 0usize;
    let mut seen: Vec<[u32; 2]> = Vec::new();
    for p in &ONE_CHOICE_PROBLEMS {
        let mut pair = p.choices;
        pair.sort_unstable();
        if seen.contains(&pair) {
            continue;
        }
        seen.push(pair);
        let mut per_answer = [0usize; 4];
        for q in &ONE_CHOICE_PROBLEMS {
            let mut qp = q.choices;
            qp.sort_unstable();
            if qp == pair {
                per_answer[q.answer as usize] += 1;
            }
        }
        correct += per_answer.iter().max().copied().unwrap_or(0);
    }
    correct as f64 / ONE_CHOICE_PROBLEMS.len() as f64
}
