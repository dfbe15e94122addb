//! Which instruction set the register-tile kernels run on (expm's small products in `gemm`, the
//! LU and its solve in `lu`, the RNN's f32 products in `packed`), and the environment variable
//! that narrows it.
//!
//! The kernels are written for AVX-512F and for AVX2 with FMA; the widest set this CPU has is
//! used, and on a CPU with neither (or off x86-64) every caller takes faer's routines instead.
//! Setting [`TILES_ENV`] (`CORTICAL_TILES`) to `avx2` or `none` makes the kernels use at most
//! that set, so that one machine can run the code paths of narrower ones: CI runs the kernels'
//! tests that way, and a user can compare the paths' results or speed. The setting is read once,
//! at the first call that asks, and holds for the life of the process (a matrix packed for a
//! kernel is always multiplied by one). It never widens the set beyond what the CPU has.
use std::sync::OnceLock;

/// The environment variable that caps the tile kernels' instruction set: `avx512` (the default:
/// the widest the CPU has), `avx2`, or `none` (faer's routines everywhere). Case-insensitive; an
/// empty value is the default. Any other value is reported once on standard error, naming the
/// variable, its value and the accepted ones, and then ignored.
pub const TILES_ENV: &str = "CORTICAL_TILES";

/// An instruction set the tile kernels are written for, ordered from narrow to wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileIsa {
    /// AVX2 + FMA: 16 registers of 4 f64 / 8 f32.
    Avx2,
    /// AVX-512F: 32 registers of 8 f64 / 16 f32.
    Avx512,
}

impl TileIsa {
    /// The set's name as [`TILES_ENV`] spells it: `avx512` or `avx2`.
    pub fn name(self) -> &'static str {
        match self {
            TileIsa::Avx512 => "avx512",
            TileIsa::Avx2 => "avx2",
        }
    }
}

/// [`tiles_isa`]'s answer as [`TILES_ENV`] spells it: `avx512`, `avx2` or `none`. The sets'
/// results may differ in the last bits (their tiles sum in other orders), so a record of a
/// computation names the one it ran on.
pub fn tiles_isa_name() -> &'static str {
    tiles_isa().map_or("none", TileIsa::name)
}

/// The instruction set the tile kernels use in this process: the widest this CPU has, narrowed
/// by [`TILES_ENV`]; `None` where they do not run (callers then use faer's routines).
pub fn tiles_isa() -> Option<TileIsa> {
    static CHOSEN: OnceLock<Option<TileIsa>> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let cpu = cpu_tiles_isa();
        let setting = std::env::var_os(TILES_ENV);
        match narrowed(cpu, setting.as_deref().map(|s| s.to_str())) {
            Ok(isa) => isa,
            Err(bad) => {
                eprintln!(
                    "cortical-kernels: {TILES_ENV}={bad:?} is not one of avx512, avx2, none \
                     (or empty); it is ignored and the tile kernels use {}",
                    describe(cpu)
                );
                cpu
            }
        }
    })
}

/// The widest instruction set of the tile kernels that this CPU has (detected at run time; std
/// caches the answer), whatever [`TILES_ENV`] says.
pub fn cpu_tiles_isa() -> Option<TileIsa> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            Some(TileIsa::Avx512)
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            Some(TileIsa::Avx2)
        } else {
            None
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The set the kernels use on a CPU offering `cpu` under the setting `setting` (`None`: the
/// variable is unset; `Some(None)`: set but not Unicode). `Err` carries a setting that is not
/// one of the accepted values.
fn narrowed(
    cpu: Option<TileIsa>,
    setting: Option<Option<&str>>,
) -> Result<Option<TileIsa>, String> {
    let Some(value) = setting else {
        return Ok(cpu);
    };
    let value = value.ok_or_else(|| "(not Unicode)".to_string())?;
    let cap = match value.trim().to_ascii_lowercase().as_str() {
        "" | "avx512" => return Ok(cpu),
        "avx2" => TileIsa::Avx2,
        "none" => return Ok(None),
        _ => return Err(value.to_string()),
    };
    Ok(cpu.map(|c| c.min(cap)))
}

fn describe(isa: Option<TileIsa>) -> &'static str {
    match isa {
        Some(TileIsa::Avx512) => "AVX-512F",
        Some(TileIsa::Avx2) => "AVX2 + FMA",
        None => "none (faer's routines)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TileIsa::*;

    #[test]
    fn the_setting_narrows_and_never_widens() {
        for cpu in [Some(Avx512), Some(Avx2), None] {
            assert_eq!(narrowed(cpu, None), Ok(cpu), "unset");
            for default in ["", "  ", "avx512", "AVX512", " Avx512 "] {
                assert_eq!(narrowed(cpu, Some(Some(default))), Ok(cpu), "{default:?}");
            }
            for none in ["none", "NONE", "None\n"] {
                assert_eq!(narrowed(cpu, Some(Some(none))), Ok(None), "{none:?}");
            }
            let avx2 = narrowed(cpu, Some(Some("avx2")));
            assert_eq!(avx2, Ok(cpu.map(|_| Avx2)), "avx2 on {cpu:?}");
        }
    }

    #[test]
    fn the_names_are_the_settings_that_choose_them() {
        for isa in [Avx512, Avx2] {
            assert_eq!(
                narrowed(Some(Avx512), Some(Some(isa.name()))),
                Ok(Some(isa))
            );
        }
        assert_eq!(narrowed(Some(Avx512), Some(Some("none"))), Ok(None));
        assert_eq!(tiles_isa_name(), tiles_isa().map_or("none", TileIsa::name));
    }

    #[test]
    fn a_bad_setting_is_reported_with_its_value() {
        for bad in ["avx", "sse2", "avx-512", "1", "off"] {
            assert_eq!(
                narrowed(Some(Avx512), Some(Some(bad))),
                Err(bad.to_string())
            );
        }
        assert_eq!(
            narrowed(Some(Avx2), Some(None)),
            Err("(not Unicode)".to_string())
        );
    }

    /// What this process chose against this CPU and this process's setting (CI runs the
    /// kernels' tests with `CORTICAL_TILES` set to each narrower set).
    #[test]
    fn the_chosen_set_follows_the_setting_on_this_cpu() {
        let chosen = tiles_isa();
        let cpu = cpu_tiles_isa();
        let setting = std::env::var_os(TILES_ENV);
        let expected = narrowed(cpu, setting.as_deref().map(|s| s.to_str())).unwrap_or(cpu);
        assert_eq!(
            chosen, expected,
            "{TILES_ENV}={setting:?} on a CPU with {cpu:?}"
        );
        assert!(chosen <= cpu, "{chosen:?} wider than the CPU's {cpu:?}");
        assert_eq!(tiles_isa(), chosen, "the choice is made once");
    }
}
