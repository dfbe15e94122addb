//! Loaders of the seed's field format: `.npy`, pickled object arrays, the connectome CSV and
//! whole field folders, against files written by numpy itself (tests/data/loaders, script
//! beside them) and against the 17 real fields (`../shared/data/microns` or `$CORTICAL_DATA`).
use cortical_priors::data::{self, csv, npy, pickle, Element, Field, SyntheticConfig};
use cortical_priors::Error;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/loaders")
        .join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&read_fixture("expected.json")).unwrap()
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn i64s(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// The pickle payload of an object-array `.npy` file (after the header's newline).
fn payload(bytes: &[u8]) -> &[u8] {
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    &bytes[nl + 1..]
}

#[test]
fn npy_plain_arrays_written_by_numpy() {
    let exp = expected();
    let want = f64s(&exp["f64"]);
    for name in ["f64_c.npy", "f64_fortran.npy", "f64_v2.npy", "f64_v3.npy"] {
        let a = npy::parse(&read_fixture(name)).unwrap();
        assert_eq!(a.shape, vec![3, 4], "{name}");
        assert_eq!(a.data, npy::NpyData::F64(want.clone()), "{name}");
    }
    let a = npy::parse(&read_fixture("i64_1d.npy")).unwrap();
    assert_eq!(a.shape, vec![3]);
    assert_eq!(a.data, npy::NpyData::I64(i64s(&exp["i64"])));
}

#[test]
fn npy_writer_round_trips_and_matches_numpy_header() {
    let want = f64s(&expected()["f64"]);
    let bytes = npy::write_f64(&[3, 4], &want);
    // numpy's own file for the same array, byte for byte.
    assert_eq!(bytes, read_fixture("f64_c.npy"));
    let ids = vec![5, -6, 1 << 62];
    assert_eq!(npy::write_i64(&[3], &ids), read_fixture("i64_1d.npy"));
}

#[test]
fn pickled_object_arrays_at_every_protocol() {
    let exp = expected();
    let spikes: Vec<Element> = exp["spikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Element::F64(f64s(s)))
        .collect();
    let positions: Vec<Element> = exp["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Element::I64(i64s(s)))
        .collect();
    for p in 2..=5 {
        for (name, want) in [("spikes", &spikes), ("positions", &positions)] {
            let file = format!("{name}_p{p}.npy");
            let a = npy::parse(&read_fixture(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(a.shape, vec![want.len()], "{file}");
            assert_eq!(a.data, npy::NpyData::Object(want.clone()), "{file}");
        }
    }
    let a = npy::parse(&read_fixture("spikes_npsave.npy")).unwrap();
    assert_eq!(a.data, npy::NpyData::Object(spikes.clone()));
    // Our writer's stream decodes to the same arrays.
    assert_eq!(
        pickle::parse_object_array(&pickle::write_object_array(&spikes)).unwrap(),
        spikes
    );
}

#[test]
fn numpy1_module_name_is_accepted() {
    // numpy 1.x writes `numpy.core.multiarray`; the protocol-2 stream spells GLOBALs as text
    // lines, so the old name can be substituted without touching any length prefix.
    let bytes = read_fixture("spikes_p2.npy");
    let p = payload(&bytes);
    let text = String::from_utf8_lossy(p);
    assert!(text.contains("numpy._core.multiarray\n_reconstruct"));
    let old = replace_all(p, b"numpy._core.multiarray\n", b"numpy.core.multiarray\n");
    assert_ne!(old, p);
    let want = pickle::parse_object_array(p).unwrap();
    assert_eq!(pickle::parse_object_array(&old).unwrap(), want);
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn truncated_and_corrupted_pickles_are_errors_not_panics() {
    for p in 2..=5 {
        let bytes = read_fixture(&format!("spikes_p{p}.npy"));
        let stream = payload(&bytes);
        for cut in 0..stream.len() {
            assert!(
                pickle::parse_object_array(&stream[..cut]).is_err(),
                "protocol {p}: prefix of {cut} bytes accepted"
            );
        }
        // Every single-byte corruption either still parses or fails cleanly.
        for i in 0..stream.len() {
            for v in [0x00, 0x7f, 0xff, b'(', b'h', 0x94] {
                let mut s = stream.to_vec();
                s[i] = v;
                let _ = pickle::parse_object_array(&s);
            }
        }
        let whole = npy::parse(&bytes).unwrap();
        for cut in [0, 5, 9, 20, bytes.len() - 1] {
            assert!(npy::parse(&bytes[..cut]).is_err(), "npy prefix {cut}");
        }
        assert!(matches!(whole.data, npy::NpyData::Object(_)));
    }
}

#[test]
fn hostile_pickles_are_refused() {
    // A global outside numpy's reconstruction path (the classic `os.system` payload).
    let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsh\x00\x85R.";
    let e = pickle::parse_object_array(evil).unwrap_err();
    assert!(e.to_string().contains("os.system"), "{e}");

    // A length prefix far beyond the input must not allocate.
    let huge = b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f";
    let e = pickle::parse_object_array(huge).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");

    // A million nested tuples: refused before they could overflow the stack on drop.
    let mut deep = vec![0x80, 4, b'N'];
    deep.extend(std::iter::repeat_n(0x85u8, 1_000_000));
    deep.push(b'.');
    let e = pickle::parse_object_array(&deep).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");

    // One memoized 8 kB buffer referenced by 10 000 elements (80 MB if materialized).
    let one = pickle::write_object_array(&[Element::F64(vec![1.0; 1000])]);
    assert!(pickle::parse_object_array(&one).is_ok());
    let e = pickle::parse_object_array(&amplified(&one, 10_000)).unwrap_err();
    assert!(e.to_string().contains("more array data"), "{e}");
}

/// Rewrites a one-element object-array stream so that its element is memoized and appended
/// `copies` times.
fn amplified(one: &[u8], copies: usize) -> Vec<u8> {
    // The stream ends with `b` (element BUILD) `e t b .`: memoize the element after its BUILD,
    // then fetch it again before APPENDS.
    let body = &one[..one.len() - 4];
    let mut s = body.to_vec();
    s.push(0x94); // MEMOIZE: key = number of memo entries so far = 0
    for _ in 1..copies {
        s.extend_from_slice(&[b'h', 0]);
    }
    s.extend_from_slice(b"etb.");
    // Fix the outer shape: the writer emitted `K 1` (one element) right after the first BUILD
    // prefix; rewrite it as BININT2 via a fresh stream instead of patching bytes.
    let mut out = Vec::new();
    let marker = [b'(', b'K', 1, b'K', 1, 0x85];
    let k = s.windows(marker.len()).position(|w| w == marker).unwrap();
    out.extend_from_slice(&s[..k]);
    out.extend_from_slice(&[b'(', b'K', 1, b'M']);
    out.extend_from_slice(&(copies as u16).to_le_bytes());
    out.push(0x85);
    out.extend_from_slice(&s[k + marker.len()..]);
    out
}

#[test]
fn csv_parser() {
    let ok = b",0,1,2\n0,0,1,0\n1,2,0,0\n2,0,0,4\n";
    let t = csv::parse_connectome(ok).unwrap();
    assert_eq!(t.n, 3);
    assert_eq!(t.values, vec![0., 1., 0., 2., 0., 0., 0., 0., 4.]);
    // CRLF and no final newline are fine.
    let crlf = b",0,1\r\n0,0,1\r\n1,2,0";
    assert_eq!(
        csv::parse_connectome(crlf).unwrap().values,
        vec![0., 1., 2., 0.]
    );
    // Header that does not match the rows: a shape error.
    let e = csv::parse_connectome(b",0,1,2\n0,0,1,0\n1,2,0,0\n").unwrap_err();
    assert!(matches!(e, data::ParseError::Shape { .. }), "{e}");
    let e = csv::parse_connectome(b",0,1\n0,0,1\n1,2,0\n2,0,0\n").unwrap_err();
    assert!(matches!(e, data::ParseError::Shape { .. }), "{e}");
    // Short row, bad header label, bad index, non-number.
    for bad in [
        &b",0,1\n0,0\n1,2,0\n"[..],
        b",0,2\n0,0,1\n1,2,0\n",
        b",0,1\n1,0,1\n0,2,0\n",
        b",0,1\n0,0,x\n1,2,0\n",
        b"0,1\n0,0,1\n1,2,0\n",
        b"",
    ] {
        assert!(
            csv::parse_connectome(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Whole field folders: error cases on a small field written by `Field::save`.

fn scratch(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("data_loading");
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&base).unwrap();
    dir
}

/// A valid small field folder named `id` (the synthetic generator provides the content).
fn small_field(case: &str) -> (Field, PathBuf) {
    let mut f = Field::synthetic(&SyntheticConfig {
        n: 12,
        seed: 3,
        ..SyntheticConfig::default()
    });
    f.id = "9_9_9".into();
    let dir = scratch(case).join("9_9_9");
    f.save(&dir).unwrap();
    (f, dir)
}

#[test]
fn save_then_load_round_trips() {
    let (f, dir) = small_field("roundtrip");
    let g = Field::load(&dir).unwrap();
    assert_eq!(g.id, "9_9_9");
    assert_eq!(g.n, f.n);
    assert_eq!(g.positions_vox, f.positions_vox);
    assert_eq!(g.root_ids, f.root_ids);
    assert_eq!(g.unit_ids, f.unit_ids);
    assert_eq!(g.target_ids, f.target_ids);
    assert_eq!(g.spikes, f.spikes);
    for (a, b) in [
        (&g.connectome, &f.connectome),
        (&g.corr, &f.corr),
        (&g.sttc, &f.sttc),
        (&g.precision, &f.precision),
    ] {
        assert_eq!(a, b);
    }
    let g2 = Field::load_from(dir.parent().unwrap(), "9_9_9").unwrap();
    assert_eq!(g2.corr, g.corr);
}

fn write_f64(dir: &Path, name: &str, shape: &[usize], v: &[f64]) {
    std::fs::write(dir.join(name), npy::write_f64(shape, v)).unwrap();
}

fn dense(m: &faer::Mat<f64>) -> Vec<f64> {
    let n = m.nrows();
    (0..n * n).map(|k| m[(k / n, k % n)]).collect()
}

#[test]
fn missing_files_are_named() {
    let (_, dir) = small_field("missing");
    std::fs::remove_file(dir.join("corr_matrix.npy")).unwrap();
    match Field::load(&dir).unwrap_err() {
        Error::MissingFile { path, .. } => assert!(path.ends_with("corr_matrix.npy")),
        e => panic!("wrong error: {e}"),
    }
    match Field::load(&dir.with_file_name("nope")).unwrap_err() {
        Error::MissingFile { path, .. } => assert!(path.ends_with("nope")),
        e => panic!("wrong error: {e}"),
    }
    // Without spikes the field still loads, with `spikes: None`.
    let (_, dir) = small_field("nospikes");
    std::fs::remove_file(dir.join("spikes_9_9_9.npy")).unwrap();
    assert!(Field::load(&dir).unwrap().spikes.is_none());
}

#[test]
fn wrong_shapes_are_shape_errors() {
    let (f, dir) = small_field("shape");
    let n = f.n;
    let expect_shape = |dir: &Path, file: &str| match Field::load(dir).unwrap_err() {
        Error::Shape { path, .. } => assert!(path.ends_with(file), "{path:?}"),
        e => panic!("{file}: wrong error: {e}"),
    };
    // Non-square corr.
    write_f64(
        &dir,
        "corr_matrix.npy",
        &[n, n - 1],
        &vec![0.0; n * (n - 1)],
    );
    expect_shape(&dir, "corr_matrix.npy");
    // Square but of another N than the connectome.
    write_f64(
        &dir,
        "corr_matrix.npy",
        &[n + 1, n + 1],
        &vec![0.0; (n + 1) * (n + 1)],
    );
    expect_shape(&dir, "corr_matrix.npy");

    let (f, dir) = small_field("shape-ids");
    std::fs::write(
        dir.join("root_ids_9_9_9.npy"),
        npy::write_i64(&[f.n - 1], &f.root_ids[1..]),
    )
    .unwrap();
    expect_shape(&dir, "root_ids_9_9_9.npy");

    // Positions with one neuron too few, and with a 2-vector.
    let (f, dir) = small_field("shape-pos");
    let mut pos: Vec<Element> = f
        .positions_vox
        .iter()
        .map(|p| Element::I64(p.to_vec()))
        .collect();
    pos.pop();
    std::fs::write(dir.join("positions_9_9_9.npy"), npy::write_objects(&pos)).unwrap();
    expect_shape(&dir, "positions_9_9_9.npy");
    pos.push(Element::I64(vec![1, 2]));
    std::fs::write(dir.join("positions_9_9_9.npy"), npy::write_objects(&pos)).unwrap();
    expect_shape(&dir, "positions_9_9_9.npy");

    // A connectome header that does not match its rows.
    let (_, dir) = small_field("shape-csv");
    let path = dir.join("connectome_9_9_9.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    std::fs::write(&path, format!("{header},{n}\n{rest}")).unwrap();
    expect_shape(&dir, "connectome_9_9_9.csv");
}

#[test]
fn asymmetric_and_nan_matrices() {
    let (f, dir) = small_field("asym");
    let mut c = dense(&f.corr);
    c[1] += 0.25; // [0, 1]
    write_f64(&dir, "corr_matrix.npy", &[f.n, f.n], &c);
    match Field::load(&dir).unwrap_err() {
        Error::Asymmetric { path, row, col, .. } => {
            assert!(path.ends_with("corr_matrix.npy"));
            assert_eq!((row, col), (0, 1));
        }
        e => panic!("wrong error: {e}"),
    }
    // STTC: a lower-only matrix is normal, a full one must be symmetric.
    let (f, dir) = small_field("asym-sttc");
    let mut s = dense(&f.sttc);
    s[2 * f.n + 5] += 0.5; // [2, 5], the upper triangle, now differs from [5, 2]
    write_f64(&dir, "sttc_matrix.npy", &[f.n, f.n], &s);
    assert!(matches!(
        Field::load(&dir).unwrap_err(),
        Error::Asymmetric { row: 2, col: 5, .. }
    ));

    let (f, dir) = small_field("nan");
    let mut p = dense(&f.precision);
    p[3 * f.n + 3] = f64::NAN;
    write_f64(&dir, "precision_matrix.npy", &[f.n, f.n], &p);
    match Field::load(&dir).unwrap_err() {
        Error::NonFinite { path, index, .. } => {
            assert!(path.ends_with("precision_matrix.npy"));
            assert_eq!(index, "[3, 3]");
        }
        e => panic!("wrong error: {e}"),
    }
    let (_, dir) = small_field("nan-csv");
    let path = dir.join("connectome_9_9_9.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\n0,0", "\n0,nan", 1)).unwrap();
    assert!(matches!(
        Field::load(&dir).unwrap_err(),
        Error::NonFinite { .. }
    ));
}

#[test]
fn format_errors_name_the_file() {
    // Truncated pickle.
    let (_, dir) = small_field("trunc");
    let path = dir.join("spikes_9_9_9.npy");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    match Field::load(&dir).unwrap_err() {
        Error::Format { path, reason } => {
            assert!(path.ends_with("spikes_9_9_9.npy"));
            assert!(reason.contains("truncated"), "{reason}");
        }
        e => panic!("wrong error: {e}"),
    }
    // Unsorted spike train.
    let (f, dir) = small_field("unsorted");
    let mut trains: Vec<Element> = f
        .spikes
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| Element::F64(t.clone()))
        .collect();
    trains[4] = Element::F64(vec![2.0, 1.0]);
    std::fs::write(dir.join("spikes_9_9_9.npy"), npy::write_objects(&trains)).unwrap();
    match Field::load(&dir).unwrap_err() {
        Error::Format { reason, .. } => assert!(reason.contains("not sorted"), "{reason}"),
        e => panic!("wrong error: {e}"),
    }
    // Wrong dtype (int ids where floats are required) and a big-endian header.
    let (f, dir) = small_field("dtype");
    std::fs::write(
        dir.join("corr_matrix.npy"),
        npy::write_i64(&[f.n, f.n], &vec![0; f.n * f.n]),
    )
    .unwrap();
    assert!(matches!(
        Field::load(&dir).unwrap_err(),
        Error::Format { .. }
    ));
    let be = replace_all(&npy::write_f64(&[1], &[1.0]), b"<f8", b">f8");
    let e = npy::parse(&be).unwrap_err();
    assert!(e.to_string().contains(">f8"), "{e}");
    // Negative synapse count.
    let (_, dir) = small_field("negative");
    let path = dir.join("connectome_9_9_9.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\n0,0", "\n0,-1", 1)).unwrap();
    assert!(matches!(
        Field::load(&dir).unwrap_err(),
        Error::Format { .. }
    ));
    // A fractional count, and synapses of a neuron onto itself (the diagonal is empty).
    for (row0, needle) in [("\n0,1.5", "not a synapse count"), ("\n0,2", "onto itself")] {
        std::fs::write(&path, text.replacen("\n0,0", row0, 1)).unwrap();
        match Field::load(&dir).unwrap_err() {
            Error::Format { path: p, reason } => {
                assert!(
                    reason.contains(needle) && reason.contains("[0, 0]"),
                    "{reason}"
                );
                assert_eq!(p, path);
            }
            e => panic!("wrong error: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real fields.

/// The real data folder, or `None` (after saying why) when it is absent outside CI.
fn real_data() -> Option<PathBuf> {
    match data::default_data_dir() {
        Some(d) if d.is_dir() => Some(d),
        other => {
            let why = format!(
                "skipped: no MICrONS data ({}; set CORTICAL_DATA or provide ../shared/data/microns)",
                other.map_or("default_data_dir() is None".into(), |d| format!(
                    "{} is not a folder",
                    d.display()
                ))
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why} — required in CI");
            }
            eprintln!("{why}");
            None
        }
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

fn sum(m: &faer::Mat<f64>) -> f64 {
    dense(m).iter().sum()
}

#[test]
fn every_real_field_loads_and_matches_numpy() {
    let Some(dir) = real_data() else { return };
    // N per field as /work/shared/data/microns/README.md lists them.
    let readme_n = [
        ("4_7_2", 88),
        ("4_7_8", 193),
        ("5_3_2", 126),
        ("5_3_4", 70),
        ("5_3_6", 175),
        ("5_3_8", 42),
        ("5_6_8", 160),
        ("5_7_8", 139),
        ("6_2_8", 125),
        ("6_4_8", 135),
        ("6_6_2", 312),
        ("6_6_8", 129),
        ("6_7_8", 162),
        ("7_3_6", 145),
        ("7_3_8", 154),
        ("7_5_8", 61),
        ("8_5_8", 190),
    ];
    let ids = data::list_fields(&dir).unwrap();
    assert_eq!(
        ids,
        readme_n
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&read_fixture("real_fields_summary.json")).unwrap();
    for (id, n) in readme_n {
        let f = Field::load_from(&dir, id).unwrap_or_else(|e| panic!("{id}: {e}"));
        let s = &summary[id];
        assert_eq!(f.id, id);
        assert_eq!(f.n, n, "{id}");
        assert_eq!(s["n"].as_u64(), Some(n as u64));
        for len in [
            f.root_ids.len(),
            f.unit_ids.len(),
            f.target_ids.len(),
            f.positions_vox.len(),
            f.connectome.nrows(),
            f.corr.ncols(),
            f.sttc.nrows(),
            f.precision.ncols(),
        ] {
            assert_eq!(len, n, "{id}");
        }
        assert_eq!(
            f.connectome_nonzeros() as u64,
            s["connectome_nonzeros"].as_u64().unwrap()
        );
        let cmax = dense(&f.connectome).into_iter().fold(0.0, f64::max);
        assert_eq!(cmax, s["connectome_max"].as_f64().unwrap(), "{id}");
        assert_eq!(
            sum(&f.connectome),
            s["connectome_sum"].as_f64().unwrap(),
            "{id}"
        );
        for (name, got) in [
            ("corr_sum", sum(&f.corr)),
            ("sttc_sym_sum", sum(&f.sttc)),
            ("precision_sum", sum(&f.precision)),
        ] {
            let want = s[name].as_f64().unwrap();
            assert!(close(got, want, 1e-12), "{id} {name}: {got} vs {want}");
        }
        for i in 0..n {
            for j in 0..n {
                assert_eq!(f.sttc[(i, j)], f.sttc[(j, i)], "{id}: STTC symmetrized");
            }
        }
        let root_sum = f.root_ids.iter().map(|&x| x as i128).sum::<i128>() % 1_000_000_000;
        assert_eq!(root_sum as u64, s["root_ids_sum_mod_1e9"].as_u64().unwrap());
        assert_eq!(
            f.unit_ids.iter().sum::<i64>(),
            s["unit_ids_sum"].as_i64().unwrap()
        );
        assert_eq!(
            f.target_ids.iter().sum::<i64>(),
            s["target_ids_sum"].as_i64().unwrap()
        );
        let psum: Vec<i64> = (0..3)
            .map(|k| f.positions_vox.iter().map(|p| p[k]).sum())
            .collect();
        assert_eq!(psum, i64s(&s["positions_sum"]), "{id}");
        assert_eq!(f.positions_vox[0].to_vec(), i64s(&s["position_0"]), "{id}");
        match (&f.spikes, s.get("spike_counts_sum")) {
            (Some(trains), Some(count)) => {
                assert_eq!(trains.len(), n);
                let total: usize = trains.iter().map(Vec::len).sum();
                assert_eq!(total as u64, count.as_u64().unwrap(), "{id}");
                let tsum: f64 = trains.iter().flatten().sum();
                assert!(close(tsum, s["spike_times_sum"].as_f64().unwrap(), 1e-12));
                // serde_json's float parsing may be 1 ulp off Python's repr: compare to 1e-15.
                let first = s["first_spike_0"].as_f64().unwrap();
                assert!(close(trains[0][0], first, 1e-15), "{id}");
                let last = trains
                    .iter()
                    .filter_map(|t| t.last())
                    .fold(0.0, |a: f64, &b| a.max(b));
                assert!(
                    close(last, s["last_spike"].as_f64().unwrap(), 1e-15),
                    "{id}"
                );
            }
            (None, None) => assert_eq!(id, "6_6_2", "only 6_6_2 lacks spikes"),
            _ => panic!("{id}: spikes presence differs from numpy"),
        }
    }
}

#[test]
fn field_6_6_2_connectome() {
    let Some(dir) = real_data() else { return };
    let f = Field::load_from(&dir, "6_6_2").unwrap();
    assert_eq!(f.n, 312);
    assert_eq!(f.connectome_nonzeros(), 316);
    let c = dense(&f.connectome);
    assert!(c
        .iter()
        .all(|&v| (0.0..=4.0).contains(&v) && v.fract() == 0.0));
    assert_eq!(c.iter().fold(0.0, |a: f64, &b| a.max(b)), 4.0);
    assert!(
        (0..f.n).all(|i| f.connectome[(i, i)] == 0.0),
        "diagonal empty"
    );
    assert!(f.spikes.is_none());
    // Positions in µm are positive and inside the minnie65 volume (this field spans about
    // 0.5–1.5 mm in x, 0.35–0.5 mm in y, 0.6–1.1 mm in z).
    for p in f.positions_um() {
        assert!(
            p.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 2000.0),
            "{p:?}"
        );
    }
}

#[test]
fn inspect_reports_the_reference_differences() {
    // reference/functional/<field>/summary.json gives elephant's max |recomputed − stored| for
    // corr and STTC; inspect recomputes with priors::functional and must find the same.
    let Some(dir) = real_data() else { return };
    let refs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/functional");
    let refs = if refs.is_dir() {
        refs
    } else {
        // The data folder sits at <shared>/data/microns; the references at <shared>/reference.
        dir.join("../../reference/functional")
    };
    let mut checked = 0;
    for id in ["5_3_4", "5_3_8", "7_5_8"] {
        let Ok(bytes) = std::fs::read(refs.join(id).join("summary.json")) else {
            continue;
        };
        let s: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let f = Field::load_from(&dir, id).unwrap();
        let r = data::inspect(&f);
        assert_eq!(r.id, id);
        assert_eq!(r.n, f.n);
        assert!(r.spikes_present);
        assert_eq!(r.recomputed_nan_entries, Some(0));
        assert!(close(
            r.t_stop_s.unwrap(),
            s["t_stop_s"].as_f64().unwrap(),
            1e-12
        ));
        for (got, key) in [
            (r.corr_max_abs_diff, "corr_max_abs_diff_vs_stored"),
            (r.sttc_max_abs_diff, "sttc_max_abs_diff_vs_stored"),
        ] {
            let want = s[key].as_f64().unwrap();
            assert!(
                (got.unwrap() - want).abs() < 1e-9,
                "{id} {key}: {got:?} vs {want}"
            );
        }
        checked += 1;
    }
    if checked == 0 {
        eprintln!("skipped: no reference/functional summaries found");
    }
    // A field without spikes: no recomputation, the rest still reported.
    let f = Field::load_from(&dir, "6_6_2").unwrap();
    let r = data::inspect(&f);
    assert!(!r.spikes_present && r.corr_max_abs_diff.is_none());
    assert_eq!(r.connectome_nonzeros, 316);
    assert_eq!(r.connectome_max_count, 4.0);
    let json = serde_json::to_value(&r).unwrap();
    let span_x = json["extent_um"][0]["span_um"].as_f64().unwrap();
    // 6_6_2's x range is 123392..372800 voxels of 4 nm.
    assert!((span_x - (372800 - 123392) as f64 * 0.004).abs() < 1e-9);
}

#[test]
fn inspect_of_the_synthetic_field() {
    let f = Field::synthetic(&SyntheticConfig {
        n: 30,
        seed: 1,
        duration_s: 300.0,
        ..SyntheticConfig::default()
    });
    let r = data::inspect(&f);
    // Its stored matrices are the recomputed ones by construction.
    assert_eq!(r.corr_max_abs_diff, Some(0.0));
    assert_eq!(r.sttc_max_abs_diff, Some(0.0));
    assert_eq!(r.connectome_nonzeros, f.connectome_nonzeros());
    assert!(r.extent_um.iter().all(|e| e.span_um > 0.0));
}
