//! Multiple comparisons: Holm's step-down correction, all-pairs Mann–Whitney tests and their
//! compact letter display.
use super::{check_sample, invalid, mann_whitney_u};
use crate::error::Result;

/// Holm's step-down adjusted p-values, in the input order, exactly as
/// `statsmodels.stats.multitest.multipletests(p, method='holm')[1]`: with the p-values sorted
/// ascending, p̃_(k) = max_{j ≤ k} (m − j + 1)·p_(j), capped at 1 (k, j 1-based). The running
/// maximum makes the adjusted values monotone in the raw ones; tied raw values get the same
/// adjusted value whichever order the sort leaves them in. Rejecting where p̃ ≤ α is Holm's
/// procedure at family-wise level α. An empty input gives an empty output.
pub fn holm(pvalues: &[f64]) -> Result<Vec<f64>> {
    if let Some((i, p)) = pvalues
        .iter()
        .enumerate()
        .find(|(_, p)| !(0.0..=1.0).contains(*p))
    {
        return Err(invalid(
            format!("pvalues[{i}]"),
            format!("{p} is not a probability in [0, 1]"),
        ));
    }
    let m = pvalues.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0_f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(pvalues[i] * (m - k) as f64);
        out[i] = running.min(1.0);
    }
    Ok(out)
}

/// A compact letter display (Piepho 2004, "An algorithm for a letter-based representation of
/// all-pairwise comparisons", J. Comput. Graph. Stat. 13:456–466): one string of letters per
/// group such that two groups share a letter exactly when they are NOT in `different`.
///
/// Insert-and-absorb: start from one letter held by all groups; for each significantly
/// different pair (i, j), every letter held by both is split into two copies, one without i and
/// one without j; then every letter whose groups are a subset of another letter's is absorbed
/// (dropped). The result holds the maximal cliques of the "not different" graph. Then Piepho's
/// sweep removes redundant entries: group g loses letter c if g keeps another letter and every
/// group sharing c with g also shares some other letter with g; letters left empty vanish.
///
/// Letters are assigned in the order of the groups: the letter of the first group's first column
/// is `a`, and so on (columns sorted by their member lists) — order the groups as the table
/// shows them (e.g. by mean, best first) so that `a` marks the first. After `z` come `A`–`Z`,
/// then `{53}`, `{54}`, …. Pairs name groups by index in 0..n_groups, in either order.
///
/// The sweep makes the display valid and free of removable entries, not minimal: with 6 groups
/// and the three different pairs (0,1), (2,3), (4,5) it uses 6 letters where 4 would do. Cost:
/// before the sweep there is one column per maximal clique — a handful for real results, but
/// exponential in contrived designs (k/2 disjoint different pairs give 2^{k/2}), so keep k to
/// the tens.
pub fn compact_letters(n_groups: usize, different: &[(usize, usize)]) -> Result<Vec<String>> {
    if n_groups == 0 {
        return Err(invalid("n_groups", "no groups to letter"));
    }
    for (k, &(i, j)) in different.iter().enumerate() {
        if i >= n_groups || j >= n_groups || i == j {
            return Err(invalid(
                format!("different[{k}]"),
                format!("({i}, {j}) is not a pair of distinct groups below {n_groups}"),
            ));
        }
    }
    let mut cols: Vec<Vec<bool>> = vec![vec![true; n_groups]];
    for &(i, j) in different {
        let mut next = Vec::with_capacity(cols.len() + 1);
        for col in cols {
            if col[i] && col[j] {
                let mut without_i = col.clone();
                without_i[i] = false;
                let mut without_j = col;
                without_j[j] = false;
                next.push(without_i);
                next.push(without_j);
            } else {
                next.push(col);
            }
        }
        cols = absorb(next);
    }
    sort_columns(&mut cols);
    sweep(&mut cols);
    sort_columns(&mut cols);
    let mut out = vec![String::new(); n_groups];
    for (c, col) in cols.iter().enumerate() {
        let letter = letter_name(c);
        for (g, _) in col.iter().enumerate().filter(|(_, &has)| has) {
            out[g].push_str(&letter);
        }
    }
    Ok(out)
}

/// Drops every column whose member set is contained in another's (of equal ones the first stays).
fn absorb(cols: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
    let subset = |a: &[bool], b: &[bool]| a.iter().zip(b).all(|(&x, &y)| !x || y);
    let mut keep: Vec<Vec<bool>> = Vec::with_capacity(cols.len());
    for (c, col) in cols.iter().enumerate() {
        let absorbed = cols
            .iter()
            .enumerate()
            .any(|(d, other)| d != c && subset(col, other) && (col != other || d < c));
        if !absorbed {
            keep.push(col.clone());
        }
    }
    keep
}

/// Piepho's sweep (see [`compact_letters`]), in column then group order; repeated until stable.
fn sweep(cols: &mut Vec<Vec<bool>>) {
    let n = cols.first().map_or(0, Vec::len);
    let mut changed = true;
    while changed {
        changed = false;
        for c in 0..cols.len() {
            for g in 0..n {
                if !cols[c][g] {
                    continue;
                }
                let elsewhere =
                    |h: usize| (0..cols.len()).any(|d| d != c && cols[d][g] && cols[d][h]);
                let redundant =
                    elsewhere(g) && (0..n).all(|h| h == g || !cols[c][h] || elsewhere(h));
                if redundant {
                    cols[c][g] = false;
                    changed = true;
                }
            }
        }
        cols.retain(|col| col.iter().any(|&x| x));
    }
}

/// Columns ordered by their sorted member lists (lexicographically), so the first group's
/// letter comes first.
fn sort_columns(cols: &mut [Vec<bool>]) {
    cols.sort_by_key(|col| {
        col.iter()
            .enumerate()
            .filter(|(_, &x)| x)
            .map(|(g, _)| g)
            .collect::<Vec<_>>()
    });
}

fn letter_name(c: usize) -> String {
    match c {
        0..=25 => char::from(b'a' + c as u8).to_string(),
        26..=51 => char::from(b'A' + (c - 26) as u8).to_string(),
        _ => format!("{{{}}}", c + 1),
    }
}

/// One pair of [`pairwise_mwu_holm`].
#[derive(Debug, Clone, PartialEq)]
pub struct PairTest {
    /// Indices of the two groups (a < b) in the input order.
    pub a: usize,
    pub b: usize,
    /// U of group a against group b.
    pub u: f64,
    /// Raw two-sided p-value of [`mann_whitney_u`].
    pub p: f64,
    /// Holm-adjusted over all pairs.
    pub p_holm: f64,
    /// p_holm ≤ α.
    pub significant: bool,
}

/// All-pairs Mann–Whitney U tests of labelled groups with Holm's correction and letters.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairwise {
    /// The group labels, in the input order.
    pub labels: Vec<String>,
    pub alpha: f64,
    /// Pairs in the order (0,1), (0,2), …, (0,k−1), (1,2), … (Python's `combinations`).
    pub tests: Vec<PairTest>,
    /// [`compact_letters`] of the significant pairs, one per label.
    pub letters: Vec<String>,
}

impl Pairwise {
    /// The letters of the group labelled `label`.
    pub fn letters_of(&self, label: &str) -> Option<&str> {
        let i = self.labels.iter().position(|l| l == label)?;
        Some(&self.letters[i])
    }

    /// The test of the two labelled groups (either order).
    pub fn test(&self, x: &str, y: &str) -> Option<&PairTest> {
        let i = self.labels.iter().position(|l| l == x)?;
        let j = self.labels.iter().position(|l| l == y)?;
        let (a, b) = (i.min(j), i.max(j));
        self.tests.iter().find(|t| t.a == a && t.b == b)
    }
}

/// Two-sided [`mann_whitney_u`] for every pair of `groups` (label, sample), Holm-adjusted over
/// the k(k−1)/2 pairs ([`holm`]), significant where p_holm ≤ `alpha`, and the
/// [`compact_letters`] of the result (letters follow the order of `groups`).
/// Needs ≥ 2 groups, each non-empty and finite, and 0 < α < 1.
pub fn pairwise_mwu_holm<L: AsRef<str>, S: AsRef<[f64]>>(
    groups: &[(L, S)],
    alpha: f64,
) -> Result<Pairwise> {
    if groups.len() < 2 {
        return Err(invalid(
            "groups",
            format!(
                "pairwise tests need at least 2 groups, got {}",
                groups.len()
            ),
        ));
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(invalid("alpha", format!("{alpha} is not in (0, 1)")));
    }
    for (g, (label, xs)) in groups.iter().enumerate() {
        check_sample(&format!("groups[{g}] ({})", label.as_ref()), xs.as_ref())?;
    }
    let k = groups.len();
    let mut tests = Vec::with_capacity(k * (k - 1) / 2);
    for a in 0..k {
        for b in a + 1..k {
            let r = mann_whitney_u(groups[a].1.as_ref(), groups[b].1.as_ref())?;
            tests.push(PairTest {
                a,
                b,
                u: r.u,
                p: r.p,
                p_holm: f64::NAN,
                significant: false,
            });
        }
    }
    let raw: Vec<f64> = tests.iter().map(|t| t.p).collect();
    for (t, ph) in tests.iter_mut().zip(holm(&raw)?) {
        t.p_holm = ph;
        t.significant = ph <= alpha;
    }
    let diff: Vec<(usize, usize)> = tests
        .iter()
        .filter(|t| t.significant)
        .map(|t| (t.a, t.b))
        .collect();
    Ok(Pairwise {
        labels: groups.iter().map(|(l, _)| l.as_ref().to_string()).collect(),
        alpha,
        tests,
        letters: compact_letters(k, &diff)?,
    })
}
