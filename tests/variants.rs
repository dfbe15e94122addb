//! The variant table against METHOD.md §4's regularizer table, read from the specification
//! itself when it is present (../shared/METHOD.md), else from the copy written out below.
use cortical_priors::variants::{Arm, Comm, Init, RegForm, Space, Variant, PAPER_VARIANTS};

/// METHOD.md §4, verbatim rows: form → variants.
const TABLE: &str = r"| λ Σ\|W\| | W |
| λ Σ \|W\| ⊙ D | WD, WD\* |
| λ Σ \|W\| ⊙ D ⊙ C(\|W\|) | WDC, WD\*C, W\*D\*C, W!D\*C |
| λ Σ \|W\| ⊙ D + λ_EMD · EMD(C_emp, C_art) | WD\*C\*, W\*D\*C\*, W\*DC\*, W!D\*C\* |";

fn form_of(formula: &str) -> RegForm {
    let f = formula.replace(['\\', ' '], "");
    if f.contains("EMD") {
        RegForm::L1DistanceEmd
    } else if f.contains("C(") {
        RegForm::L1DistanceComm
    } else if f.contains("⊙D") {
        RegForm::L1Distance
    } else {
        RegForm::L1
    }
}

/// (variant name, form) pairs of a Markdown table in METHOD.md's shape.
fn parse_table(text: &str) -> Vec<(String, RegForm)> {
    let mut out = Vec::new();
    for line in text.lines() {
        // Split on unescaped pipes only.
        let cells: Vec<String> = line
            .replace("\\|", "\u{1}")
            .split('|')
            .map(|c| c.replace('\u{1}', "|").trim().to_string())
            .collect();
        if cells.len() < 4 || !cells[1].contains('Σ') {
            continue;
        }
        let form = form_of(&cells[1]);
        for v in cells[2].split(',') {
            out.push((v.replace('\\', "").trim().to_string(), form));
        }
    }
    out
}

#[test]
fn eleven_variants_follow_methods_regularizer_table() {
    let spec = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/METHOD.md"),
    );
    let rows = match &spec {
        Ok(text) => {
            // §4 only: §8's profile table also has Σ|W| rows.
            let start = text.find("## 4.").expect("METHOD.md has a §4");
            let end = text[start..]
                .find("## 5.")
                .map_or(text.len(), |e| start + e);
            let r = parse_table(&text[start..end]);
            assert_eq!(
                r.len(),
                11,
                "METHOD.md's table lists eleven variants: {r:?}"
            );
            r
        }
        Err(_) => parse_table(TABLE),
    };
    assert_eq!(rows, parse_table(TABLE), "METHOD.md's table changed");
    let mut names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    names.sort();
    let mut paper = PAPER_VARIANTS.to_vec();
    paper.sort();
    assert_eq!(names, paper);
    for (name, form) in rows {
        let v: Variant = name.parse().unwrap();
        assert_eq!(v.reg_form(), form, "{name}");
        assert_eq!(v.to_string(), name);
    }
}

#[test]
fn names_decode_into_init_space_comm() {
    let v: Variant = "W!D*C*".parse().unwrap();
    assert_eq!(
        (v.init, v.space, v.comm),
        (Init::Permuted, Space::Soma, Comm::Emd)
    );
    let v: Variant = "W*DC*".parse().unwrap();
    assert_eq!(
        (v.init, v.space, v.comm),
        (Init::Functional, Space::Grid, Comm::Emd)
    );
    let v: Variant = "WD*C".parse().unwrap();
    assert_eq!(
        (v.init, v.space, v.comm),
        (Init::Orthogonal, Space::Soma, Comm::WiringCost)
    );
    let v: Variant = "W".parse().unwrap();
    assert_eq!(
        (v.init, v.space, v.comm),
        (Init::Orthogonal, Space::None, Comm::None)
    );
    assert!(!v.needs_functional() && !v.needs_c_emp());
    // The ECDF control is a fourth init outside the eleven.
    let v: Variant = "W~D*C".parse().unwrap();
    assert_eq!(v.init, Init::Ecdf);
    // The self-recurrence controls, also outside the eleven; names round-trip.
    for (name, init) in [
        ("W*-D*C", Init::FunctionalNoSelf),
        ("WID*C", Init::DiagonalOnly),
        ("W*-", Init::FunctionalNoSelf),
        ("WID", Init::DiagonalOnly),
    ] {
        let v: Variant = name.parse().unwrap();
        assert_eq!(v.init, init, "{name}");
        assert!(v.needs_functional());
        assert_eq!(v.to_string(), name);
    }
    assert!("W*-!D".parse::<Variant>().is_err());
    assert_eq!(Variant::paper().len(), 11);
}

#[test]
fn bad_names_get_an_error_listing_the_valid_ones() {
    for bad in ["", "X", "WC", "WD**", "W*D*C*x", "w*d*c", "WDD"] {
        let e = bad.parse::<Variant>().unwrap_err().to_string();
        assert!(e.contains("W*D*C*") && e.contains("W!D*C"), "{bad:?}: {e}");
        assert!(e.contains(&format!("{bad:?}")), "{bad:?}: {e}");
    }
}

#[test]
fn arms_parse_and_cover_sign_by_source() {
    let all = Arm::all();
    assert_eq!(all.len(), 6);
    for a in &all {
        assert_eq!(a.to_string().parse::<Arm>().unwrap(), *a);
    }
    assert_eq!(Arm::default().to_string(), "free/corr-sttc");
    assert!("free".parse::<Arm>().is_err());
    assert!("nonneg/corr"
        .parse::<Arm>()
        .unwrap_err()
        .to_string()
        .contains("corr-sttc"));
}
