//! The model variants and experimental arms as data (METHOD.md §4).
//!
//! A variant is one row of a table: how W is initialized × which distance matrix enters the
//! wiring cost × how communicability enters the loss. Everything downstream (priors, regularizer,
//! training) reads these three fields; no code path is specific to a variant name. The names are
//! the paper's: `W` (random orthogonal init) or `W*` (functional) or `W!` (permuted functional),
//! then `D` (grid distance) or `D*` (soma distance), then `C` (communicability in the wiring cost)
//! or `C*` (EMD between empirical and artificial communicability). `W~` (the ECDF control of §3)
//! is accepted as a fourth init but is not one of the paper's eleven, and so are the two
//! self-recurrence controls: `W*-` (W\* without its diagonal, same spectral radius) and `WI`
//! (ρ(W\*)·I, the diagonal only) — e.g. `W*-D*C`, `WID*C`.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How the recurrent weight matrix is initialized (METHOD.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Init {
    /// Orthogonal (QR of a Gaussian, gain 1): `W`.
    Orthogonal,
    /// Functional prior W\* built from the field's correlation/STTC/precision: `W*`.
    Functional,
    /// W\* with one random node relabelling applied to rows and columns: `W!`.
    Permuted,
    /// W\*'s non-zero values resampled from their ECDF on the same support: `W~`.
    Ecdf,
    /// Control: W\* with its diagonal removed, rescaled to W\*'s spectral radius: `W*-`.
    FunctionalNoSelf,
    /// Control: `ρ(W*)·I`, self-connections only: `WI`.
    DiagonalOnly,
}

/// Which distance matrix weights the wiring cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Space {
    /// No distance: the plain L1 penalty.
    None,
    /// Euclidean distance on a regular 3-D grid holding N points: `D`.
    Grid,
    /// Euclidean distance between soma positions: `D*`.
    Soma,
}

/// How communicability enters the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comm {
    /// Not at all.
    None,
    /// Multiplies the wiring cost: λ Σ|W|⊙D⊙C(|W|): `C`.
    WiringCost,
    /// Adds λ_EMD · W1(C_emp, C(|W|)) to the distance-weighted L1: `C*`.
    Emd,
}

/// The regularizer a variant trains with: METHOD.md §4's table, derived from [`Space`] × [`Comm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegForm {
    /// λ Σ|W|
    L1,
    /// λ Σ|W|⊙D
    L1Distance,
    /// λ Σ|W|⊙D⊙C(|W|)
    L1DistanceComm,
    /// λ Σ|W|⊙D + λ_EMD · EMD(C_emp, C(|W|))
    L1DistanceEmd,
}

impl RegForm {
    /// The formula as METHOD.md writes it.
    pub fn formula(self) -> &'static str {
        match self {
            RegForm::L1 => "λ Σ|W|",
            RegForm::L1Distance => "λ Σ|W|⊙D",
            RegForm::L1DistanceComm => "λ Σ|W|⊙D⊙C(|W|)",
            RegForm::L1DistanceEmd => "λ Σ|W|⊙D + λ_EMD·EMD(C_emp, C_art)",
        }
    }
}

/// One model variant: a row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub init: Init,
    pub space: Space,
    pub comm: Comm,
}

/// The paper's eleven variants, in its order.
pub const PAPER_VARIANTS: [&str; 11] = [
    "W*D*C", "WD*C", "WDC", "WD*", "WD", "W", "W*D*C*", "WD*C*", "W*DC*", "W!D*C", "W!D*C*",
];

impl Variant {
    /// The paper's eleven variants, in its order.
    pub fn paper() -> Vec<Variant> {
        PAPER_VARIANTS
            .iter()
            .map(|s| s.parse().expect("the paper's names parse"))
            .collect()
    }

    /// The regularizer of this variant (METHOD.md §4).
    pub fn reg_form(&self) -> RegForm {
        match (self.space, self.comm) {
            (Space::None, _) => RegForm::L1,
            (_, Comm::None) => RegForm::L1Distance,
            (_, Comm::WiringCost) => RegForm::L1DistanceComm,
            (_, Comm::Emd) => RegForm::L1DistanceEmd,
        }
    }

    /// Whether the variant needs the field's functional prior W\* (bio init).
    pub fn needs_functional(&self) -> bool {
        !matches!(self.init, Init::Orthogonal)
    }

    /// Whether the variant needs C_emp (the EMD arm).
    pub fn needs_c_emp(&self) -> bool {
        matches!(self.comm, Comm::Emd)
    }

    /// The variant's name, e.g. `W*D*C*`.
    pub fn name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.init {
            Init::Orthogonal => "W",
            Init::Functional => "W*",
            Init::Permuted => "W!",
            Init::Ecdf => "W~",
            Init::FunctionalNoSelf => "W*-",
            Init::DiagonalOnly => "WI",
        })?;
        f.write_str(match self.space {
            Space::None => "",
            Space::Grid => "D",
            Space::Soma => "D*",
        })?;
        f.write_str(match self.comm {
            Comm::None => "",
            Comm::WiringCost => "C",
            Comm::Emd => "C*",
        })
    }
}

fn variant_error(s: &str, why: &str) -> Error {
    Error::Invalid {
        what: "variant".into(),
        reason: format!(
            "{s:?}: {why}; valid names are {} (grammar: W|W*|W!|W~|W*-|WI, then optionally D|D*, then \
             optionally C|C* which needs D or D*)",
            PAPER_VARIANTS.join(", ")
        ),
    }
}

impl FromStr for Variant {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let rest = t
            .strip_prefix('W')
            .ok_or_else(|| variant_error(s, "must start with W"))?;
        let (init, rest) = match rest.chars().next() {
            Some('*') if rest[1..].starts_with('-') => (Init::FunctionalNoSelf, &rest[2..]),
            Some('I') => (Init::DiagonalOnly, &rest[1..]),
            Some('*') => (Init::Functional, &rest[1..]),
            Some('!') => (Init::Permuted, &rest[1..]),
            Some('~') => (Init::Ecdf, &rest[1..]),
            _ => (Init::Orthogonal, rest),
        };
        let (space, rest) = if let Some(r) = rest.strip_prefix("D*") {
            (Space::Soma, r)
        } else if let Some(r) = rest.strip_prefix('D') {
            (Space::Grid, r)
        } else {
            (Space::None, rest)
        };
        let (comm, rest) = if let Some(r) = rest.strip_prefix("C*") {
            (Comm::Emd, r)
        } else if let Some(r) = rest.strip_prefix('C') {
            (Comm::WiringCost, r)
        } else {
            (Comm::None, rest)
        };
        if !rest.is_empty() {
            return Err(variant_error(s, &format!("unexpected {rest:?}")));
        }
        if space == Space::None && comm != Comm::None {
            return Err(variant_error(
                s,
                "communicability (C or C*) needs a distance (D or D*)",
            ));
        }
        Ok(Variant { init, space, comm })
    }
}

impl Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Variant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether W is projected onto W ≥ 0 after every update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sign {
    Unconstrained,
    NonNegative,
}

/// Which functional measures build W\* (METHOD.md §3 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// corr′ ⊙ sttc′ (the paper's default)
    CorrSttc,
    /// precision′ ⊙ sttc′
    PrecisionSttc,
    /// sttc′ only
    Sttc,
}

/// One experimental arm: sign constraint × functional source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arm {
    pub sign: Sign,
    pub source: Source,
}

impl Default for Arm {
    /// The paper's main arm: unconstrained, W\* from corr·STTC.
    fn default() -> Self {
        Arm {
            sign: Sign::Unconstrained,
            source: Source::CorrSttc,
        }
    }
}

impl Arm {
    /// All six arms.
    pub fn all() -> Vec<Arm> {
        let mut v = Vec::new();
        for sign in [Sign::Unconstrained, Sign::NonNegative] {
            for source in [Source::CorrSttc, Source::PrecisionSttc, Source::Sttc] {
                v.push(Arm { sign, source });
            }
        }
        v
    }
}

impl fmt::Display for Arm {
    /// `free/corr-sttc`, `nonneg/sttc`, …: the spelling of `--arms` and of the CSV's arm column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.sign {
            Sign::Unconstrained => "free",
            Sign::NonNegative => "nonneg",
        };
        let source = match self.source {
            Source::CorrSttc => "corr-sttc",
            Source::PrecisionSttc => "precision-sttc",
            Source::Sttc => "sttc",
        };
        write!(f, "{sign}/{source}")
    }
}

impl FromStr for Arm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Invalid {
            what: "arm".into(),
            reason: format!(
                "{s:?}: {why}; an arm is SIGN/SOURCE with SIGN free|nonneg and SOURCE \
                 corr-sttc|precision-sttc|sttc, e.g. free/corr-sttc"
            ),
        };
        let (sign, source) = s.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let sign = match sign {
            "free" => Sign::Unconstrained,
            "nonneg" => Sign::NonNegative,
            _ => return Err(bad("unknown sign")),
        };
        let source = match source {
            "corr-sttc" => Source::CorrSttc,
            "precision-sttc" => Source::PrecisionSttc,
            "sttc" => Source::Sttc,
            _ => return Err(bad("unknown source")),
        };
        Ok(Arm { sign, source })
    }
}

impl Serialize for Arm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Arm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Variant::paper() {
            assert_eq!(v.to_string().parse::<Variant>().unwrap(), v);
        }
        for a in Arm::all() {
            assert_eq!(a.to_string().parse::<Arm>().unwrap(), a);
        }
    }
}
