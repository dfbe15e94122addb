//! MICrONS fields (METHOD.md §1): loading the seed's folder format and the built-in synthetic
//! field.
//!
//! A field folder `<id>/` holds `connectome_<id>.csv`, `positions_<id>.npy` (pickled object
//! array), `corr_matrix.npy`, `sttc_matrix.npy` (lower triangle only), `precision_matrix.npy`,
//! `root_ids_<id>.npy`, `unit_ids_<id>.npy`, `target_ids_<id>.npy` and, for most fields,
//! `spikes_<id>.npy` (pickled object array). [`Field::load`] reads and checks all of them: every
//! file must agree on N, matrices must be finite, square and (where the method needs it)
//! symmetric, spike trains sorted. The byte-level readers ([`npy::parse`],
//! [`pickle::parse_object_array`], [`csv::parse_connectome`]) are public so they can be fuzzed.
use crate::error::{Error, Result};
use faer::Mat;
use std::fmt;
use std::path::{Path, PathBuf};

pub mod csv;
pub mod inspect;
pub mod npy;
pub mod pickle;
pub mod synthetic;

pub use inspect::{inspect, InspectReport};
pub use pickle::Element;
pub use synthetic::SyntheticConfig;

/// Size of one EM voxel of the minnie65 volume in nanometres, (x, y, z).
pub const VOXEL_NM: [f64; 3] = [4.0, 4.0, 40.0];

/// One MICrONS field: its neurons' identities, positions, wiring and activity.
#[derive(Debug, Clone)]
pub struct Field {
    /// Folder name, e.g. `"6_6_2"`; synthetic fields: `"synthetic-n<N>-seed<S>"`.
    pub id: String,
    pub n: usize,
    pub root_ids: Vec<i64>,
    pub unit_ids: Vec<i64>,
    pub target_ids: Vec<i64>,
    /// (x, y, z) in 4×4×40 nm voxels.
    pub positions_vox: Vec<[i64; 3]>,
    /// N×N synapse counts, row = presynaptic, column = postsynaptic.
    pub connectome: Mat<f64>,
    /// Stored Pearson correlation (symmetric).
    pub corr: Mat<f64>,
    /// Stored STTC, symmetrized (the lower triangle copied to the upper).
    pub sttc: Mat<f64>,
    pub precision: Mat<f64>,
    /// Event times in seconds, sorted; `None` when the field has no spike file.
    pub spikes: Option<Vec<Vec<f64>>>,
}

/// What a byte-level reader found wrong; [`ParseError::at`] names the file.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The bytes do not follow the format.
    Format(String),
    /// Well-formed, but the shape or a length disagrees with itself.
    Shape { expected: String, found: String },
}

impl ParseError {
    pub(crate) fn format(reason: impl Into<String>) -> Self {
        ParseError::Format(reason.into())
    }

    pub(crate) fn shape(expected: impl Into<String>, found: impl Into<String>) -> Self {
        ParseError::Shape {
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// The crate error for this problem in file `path`.
    pub fn at(self, path: &Path) -> Error {
        let path = path.to_path_buf();
        match self {
            ParseError::Format(reason) => Error::Format { path, reason },
            ParseError::Shape { expected, found } => Error::Shape {
                path,
                expected,
                found,
            },
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Format(r) => f.write_str(r),
            ParseError::Shape { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// `$CORTICAL_DATA` if set, else `../shared/data/microns` next to the crate root if it exists.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CORTICAL_DATA").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/microns");
    p.is_dir().then_some(p)
}

/// The field ids under `data_dir` (folders holding a `connectome_<id>.csv`), sorted.
pub fn list_fields(data_dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(data_dir).map_err(|e| io_error(data_dir, "data folder", e))?;
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(data_dir, "data folder", e))?;
        if let Some(id) = entry.file_name().to_str() {
            if entry.path().join(format!("connectome_{id}.csv")).is_file() {
                ids.push(id.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::MissingFile {
            path: path.to_path_buf(),
            what: what.to_string(),
        }
    } else {
        Error::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, what, e))
}

fn parse_npy(path: &Path, what: &str) -> Result<npy::Npy> {
    npy::parse(&read(path, what)?).map_err(|e| e.at(path))
}

fn non_finite(path: &Path, index: String, value: f64) -> Error {
    Error::NonFinite {
        path: path.to_path_buf(),
        index,
        value,
    }
}

fn shape_error(path: &Path, expected: String, found: String) -> Error {
    Error::Shape {
        path: path.to_path_buf(),
        expected,
        found,
    }
}

/// A finite N×N `<f8` matrix.
fn load_matrix(path: &Path, what: &str, n: usize) -> Result<Mat<f64>> {
    let a = parse_npy(path, what)?;
    let npy::NpyData::F64(v) = &a.data else {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("{what} has dtype {}, expected <f8", a.data.descr()),
        });
    };
    if a.shape != [n, n] {
        return Err(shape_error(
            path,
            format!("a square {n}×{n} {what} (N from the connectome)"),
            format!("shape {:?}", a.shape),
        ));
    }
    if let Some(k) = v.iter().position(|x| !x.is_finite()) {
        return Err(non_finite(path, format!("[{}, {}]", k / n, k % n), v[k]));
    }
    Ok(Mat::from_fn(n, n, |i, j| v[i * n + j]))
}

/// Two entries are equal up to rounding (the stored corr has 1e-17 asymmetries).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn check_symmetric(path: &Path, m: &Mat<f64>) -> Result<()> {
    for i in 0..m.nrows() {
        for j in i + 1..m.ncols() {
            if !close(m[(i, j)], m[(j, i)]) {
                return Err(Error::Asymmetric {
                    path: path.to_path_buf(),
                    row: i,
                    col: j,
                    upper: m[(i, j)],
                    lower: m[(j, i)],
                });
            }
        }
    }
    Ok(())
}

fn load_ids(path: &Path, what: &str, n: usize) -> Result<Vec<i64>> {
    let a = parse_npy(path, what)?;
    match a.data {
        npy::NpyData::I64(v) if a.shape == [n] => Ok(v),
        npy::NpyData::I64(_) => Err(shape_error(
            path,
            format!("{n} {what} (N from the connectome)"),
            format!("shape {:?}", a.shape),
        )),
        other => Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("{what} have dtype {}, expected <i8", other.descr()),
        }),
    }
}

fn load_objects(path: &Path, what: &str, n: usize) -> Result<Vec<Element>> {
    let a = parse_npy(path, what)?;
    let npy::NpyData::Object(v) = a.data else {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!(
                "{what}: dtype {}, expected a pickled object array (|O)",
                a.data.descr()
            ),
        });
    };
    if v.len() != n {
        return Err(shape_error(
            path,
            format!("{n} {what} (N from the connectome)"),
            format!("{}", v.len()),
        ));
    }
    Ok(v)
}

impl Field {
    /// Loads one field folder in the seed's format; the id is the folder's name.
    pub fn load(dir: &Path) -> Result<Field> {
        let id = dir
            .file_name()
            .and_then(|s| s.to_str())
            .ok_or_else(|| Error::Invalid {
                what: "field folder".into(),
                reason: format!(
                    "{} has no UTF-8 folder name to use as field id",
                    dir.display()
                ),
            })?
            .to_string();
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
                what: format!("field folder of {id}"),
            });
        }

        // The connectome fixes N; every other file must agree with it.
        let cpath = dir.join(format!("connectome_{id}.csv"));
        let table =
            csv::parse_connectome(&read(&cpath, "connectome table")?).map_err(|e| e.at(&cpath))?;
        let n = table.n;
        for (k, &v) in table.values.iter().enumerate() {
            if !v.is_finite() {
                return Err(non_finite(&cpath, format!("[{}, {}]", k / n, k % n), v));
            }
            if v < 0.0 || v.fract() != 0.0 {
                return Err(Error::Format {
                    path: cpath,
                    reason: format!(
                        "{v} at [{}, {}] is not a synapse count (a whole number ≥ 0)",
                        k / n,
                        k % n
                    ),
                });
            }
            if v != 0.0 && k / n == k % n {
                return Err(Error::Format {
                    path: cpath,
                    reason: format!(
                        "{v} synapses of neuron {} onto itself at [{0}, {0}]; the connectome's \
                         diagonal is empty (METHOD.md §1)",
                        k / n
                    ),
                });
            }
        }
        let connectome = Mat::from_fn(n, n, |i, j| table.values[i * n + j]);

        let path = dir.join("corr_matrix.npy");
        let corr = load_matrix(&path, "correlation matrix", n)?;
        check_symmetric(&path, &corr)?;

        // The seed stores only the lower triangle and the diagonal. A full symmetric matrix is
        // accepted too; anything else (an upper triangle that disagrees) is refused.
        let path = dir.join("sttc_matrix.npy");
        let mut sttc = load_matrix(&path, "STTC matrix", n)?;
        let upper_zero = (0..n).all(|i| (i + 1..n).all(|j| sttc[(i, j)] == 0.0));
        if !upper_zero {
            check_symmetric(&path, &sttc)?;
        }
        for i in 0..n {
            for j in i + 1..n {
                sttc[(i, j)] = sttc[(j, i)];
            }
        }

        let path = dir.join("precision_matrix.npy");
        let precision = load_matrix(&path, "precision matrix", n)?;
        check_symmetric(&path, &precision)?;

        let path = dir.join(format!("positions_{id}.npy"));
        let mut positions_vox = Vec::with_capacity(n);
        for (i, e) in load_objects(&path, "soma positions", n)?
            .into_iter()
            .enumerate()
        {
            match e {
                Element::I64(v) if v.len() == 3 => positions_vox.push([v[0], v[1], v[2]]),
                other => {
                    return Err(shape_error(
                        &path,
                        format!("position {i} as 3 int64 voxel coordinates"),
                        format!("{} values of {}", other.len(), other.descr()),
                    ))
                }
            }
        }

        let path = dir.join(format!("spikes_{id}.npy"));
        let spikes = if path.exists() {
            let mut trains = Vec::with_capacity(n);
            for (i, e) in load_objects(&path, "spike trains", n)?
                .into_iter()
                .enumerate()
            {
                let Element::F64(t) = e else {
                    return Err(Error::Format {
                        path,
                        reason: format!("spike train {i} has dtype {}, expected <f8", e.descr()),
                    });
                };
                if let Some(k) = t.iter().position(|x| !x.is_finite()) {
                    return Err(non_finite(&path, format!("spike {k} of neuron {i}"), t[k]));
                }
                if let Some(k) = t.windows(2).position(|w| w[1] < w[0]) {
                    return Err(Error::Format {
                        path,
                        reason: format!(
                            "spike train {i} is not sorted: {} then {} at {k}",
                            t[k],
                            t[k + 1]
                        ),
                    });
                }
                trains.push(t);
            }
            Some(trains)
        } else {
            None
        };

        let root_ids = load_ids(&dir.join(format!("root_ids_{id}.npy")), "root ids", n)?;
        let unit_ids = load_ids(&dir.join(format!("unit_ids_{id}.npy")), "unit ids", n)?;
        let target_ids = load_ids(&dir.join(format!("target_ids_{id}.npy")), "target ids", n)?;

        Ok(Field {
            id,
            n,
            root_ids,
            unit_ids,
            target_ids,
            positions_vox,
            connectome,
            corr,
            sttc,
            precision,
            spikes,
        })
    }

    /// A 64-bit FNV-1a digest of everything the runs read from the field (ids, positions, the
    /// four matrices, spike times; bit patterns, in a fixed order), as 16 hex digits. Recorded
    /// in an ablation's `config.json`, so that resuming on data that changed under the same
    /// folder name is refused instead of mixing two datasets in one results file.
    pub fn fingerprint(&self) -> String {
        struct Fnv(u64);
        impl Fnv {
            fn eat(&mut self, x: u64) {
                for b in x.to_le_bytes() {
                    self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.eat(self.n as u64);
        for ids in [&self.root_ids, &self.unit_ids, &self.target_ids] {
            ids.iter().for_each(|&v| h.eat(v as u64));
        }
        for p in &self.positions_vox {
            p.iter().for_each(|&v| h.eat(v as u64));
        }
        for m in [&self.connectome, &self.corr, &self.sttc, &self.precision] {
            for j in 0..m.ncols() {
                for i in 0..m.nrows() {
                    h.eat(m[(i, j)].to_bits());
                }
            }
        }
        match &self.spikes {
            None => h.eat(u64::MAX),
            Some(trains) => {
                for t in trains {
                    h.eat(t.len() as u64);
                    t.iter().for_each(|&v| h.eat(v.to_bits()));
                }
            }
        }
        format!("{:016x}", h.0)
    }

    /// Loads `data_dir/<id>/`.
    pub fn load_from(data_dir: &Path, id: &str) -> Result<Field> {
        Field::load(&data_dir.join(id))
    }

    /// The built-in MICrONS-like field (deterministic in `cfg.seed`); see [`synthetic`].
    pub fn synthetic(cfg: &SyntheticConfig) -> Field {
        synthetic::generate(cfg)
    }

    /// Writes the field as a folder in the seed's format (`dir` is created; the files are named
    /// after `self.id`, the STTC is stored as its lower triangle like the seed's). Loading the
    /// folder back with [`Field::load`] needs `dir`'s name to equal `self.id`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let id = &self.id;
        let n = self.n;
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "field folder", e))?;
        let write = |name: String, bytes: Vec<u8>| -> Result<()> {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|source| Error::Io { path, source })
        };
        write(
            format!("connectome_{id}.csv"),
            csv::write_square(&self.connectome),
        )?;
        let dense = |m: &Mat<f64>, lower_only: bool| -> Vec<f64> {
            let mut v = Vec::with_capacity(n * n);
            for i in 0..n {
                for j in 0..n {
                    v.push(if lower_only && j > i { 0.0 } else { m[(i, j)] });
                }
            }
            v
        };
        write(
            "corr_matrix.npy".into(),
            npy::write_f64(&[n, n], &dense(&self.corr, false)),
        )?;
        write(
            "sttc_matrix.npy".into(),
            npy::write_f64(&[n, n], &dense(&self.sttc, true)),
        )?;
        write(
            "precision_matrix.npy".into(),
            npy::write_f64(&[n, n], &dense(&self.precision, false)),
        )?;
        let positions: Vec<Element> = self
            .positions_vox
            .iter()
            .map(|p| Element::I64(p.to_vec()))
            .collect();
        write(
            format!("positions_{id}.npy"),
            npy::write_objects(&positions),
        )?;
        if let Some(spikes) = &self.spikes {
            let trains: Vec<Element> = spikes.iter().map(|t| Element::F64(t.clone())).collect();
            write(format!("spikes_{id}.npy"), npy::write_objects(&trains))?;
        }
        write(
            format!("root_ids_{id}.npy"),
            npy::write_i64(&[n], &self.root_ids),
        )?;
        write(
            format!("unit_ids_{id}.npy"),
            npy::write_i64(&[n], &self.unit_ids),
        )?;
        write(
            format!("target_ids_{id}.npy"),
            npy::write_i64(&[n], &self.target_ids),
        )?;
        Ok(())
    }

    /// Soma positions in micrometres (voxel × 4, 4, 40 nm).
    pub fn positions_um(&self) -> Vec<[f64; 3]> {
        self.positions_vox
            .iter()
            .map(|p| std::array::from_fn(|k| p[k] as f64 * VOXEL_NM[k] / 1000.0))
            .collect()
    }

    /// Number of non-zero entries of the connectome.
    pub fn connectome_nonzeros(&self) -> usize {
        let c = &self.connectome;
        (0..c.nrows())
            .map(|i| (0..c.ncols()).filter(|&j| c[(i, j)] != 0.0).count())
            .sum()
    }
}
