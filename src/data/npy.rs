//! A strict reader of numpy's `.npy` format (versions 1.0, 2.0 and 3.0), little-endian only.
//!
//! It accepts exactly the dtypes the seed's field folders use: `<f8` and `<i8` plain arrays
//! and `|O` object arrays, whose payload is a pickle (read by [`super::pickle`]). Everything
//! else — big-endian data, other dtypes, a payload longer or shorter than the header's shape
//! says — is an error, never a guess: these files feed every prior of the experiment.
use super::pickle::{self, Element};
use super::ParseError;

const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed `.npy` file: its shape and its elements in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

/// The payload of a [`Npy`], one variant per accepted dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f8`
    F64(Vec<f64>),
    /// `<i8`
    I64(Vec<i64>),
    /// `|O`: a pickled object array of numeric 1-D arrays (always 1-D itself).
    Object(Vec<Element>),
}

impl NpyData {
    /// The dtype as numpy writes it in the header, for error messages.
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::F64(_) => "<f8",
            NpyData::I64(_) => "<i8",
            NpyData::Object(_) => "|O",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Descr {
    F64,
    I64,
    Object,
}

/// Parses a whole `.npy` file held in memory.
pub fn parse(bytes: &[u8]) -> Result<Npy, ParseError> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ParseError::format(
            "not a .npy file (magic \\x93NUMPY missing)",
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start): (usize, usize) = match (major, minor) {
        (1, 0) => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| ParseError::format("truncated .npy header length"))?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
        }
        (2, 0) | (3, 0) => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| ParseError::format("truncated .npy header length"))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => {
            return Err(ParseError::format(format!(
                "unsupported .npy version {major}.{minor} (1.0, 2.0, 3.0 are known)"
            )))
        }
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .ok_or_else(|| {
            ParseError::format(format!(
                "header of {header_len} bytes runs past the end of the file ({} bytes)",
                bytes.len()
            ))
        })?;
    // Version 3 allows UTF-8; 1 and 2 are latin-1. The dict we accept is pure ASCII either way.
    let header = std::str::from_utf8(header)
        .ok()
        .filter(|h| h.is_ascii())
        .ok_or_else(|| ParseError::format("header is not ASCII"))?;
    let header = header
        .strip_suffix('\n')
        .ok_or_else(|| ParseError::format("header does not end with a newline"))?;
    let (descr, fortran, shape) = parse_header(header)?;
    let payload = &bytes[start + header_len..];

    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| ParseError::format(format!("shape {shape:?} overflows")))?;
    let data = match descr {
        Descr::Object => {
            if shape.len() != 1 {
                return Err(ParseError::shape(
                    "a 1-D object array",
                    format!("shape {shape:?}"),
                ));
            }
            let elements = pickle::parse_object_array(payload)?;
            if elements.len() != count {
                return Err(ParseError::shape(
                    format!("{count} pickled elements (header shape {shape:?})"),
                    format!("{}", elements.len()),
                ));
            }
            NpyData::Object(elements)
        }
        Descr::F64 | Descr::I64 => {
            let want = count
                .checked_mul(8)
                .ok_or_else(|| ParseError::format(format!("shape {shape:?} overflows")))?;
            if payload.len() != want {
                return Err(ParseError::format(format!(
                    "payload is {} bytes but shape {shape:?} of 8-byte items needs {want}",
                    payload.len()
                )));
            }
            let words = payload.chunks_exact(8).map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                w
            });
            let order = if fortran {
                fortran_to_c_order(&shape)
            } else {
                Vec::new()
            };
            match descr {
                Descr::F64 => {
                    NpyData::F64(reorder(words.map(f64::from_le_bytes).collect(), &order))
                }
                _ => NpyData::I64(reorder(words.map(i64::from_le_bytes).collect(), &order)),
            }
        }
    };
    Ok(Npy { shape, data })
}

/// `order[c]` = position in the Fortran-ordered payload of the element whose C-order index is
/// `c`. Empty when the shape has at most one non-trivial axis (the orders then coincide).
fn fortran_to_c_order(shape: &[usize]) -> Vec<usize> {
    if shape.iter().filter(|&&d| d > 1).count() <= 1 {
        return Vec::new();
    }
    let count: usize = shape.iter().product();
    // Fortran strides: the first axis is contiguous.
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut order = Vec::with_capacity(count);
    for _ in 0..count {
        order.push(index.iter().zip(&strides).map(|(i, s)| i * s).sum());
        // Advance the C-order multi-index (last axis fastest).
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    order
}

fn reorder<T: Copy>(data: Vec<T>, order: &[usize]) -> Vec<T> {
    if order.is_empty() {
        data
    } else {
        order.iter().map(|&i| data[i]).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Open(char),
    Close(char),
    Colon,
    Comma,
    Str(&'a str),
    Ident(&'a str),
    Int(usize),
}

fn tokenize(h: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let b = h.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' => i += 1,
            b'{' | b'(' => {
                out.push(Token::Open(c as char));
                i += 1;
            }
            b'}' | b')' => {
                out.push(Token::Close(c as char));
                i += 1;
            }
            b':' => {
                out.push(Token::Colon);
                i += 1;
            }
            b',' => {
                out.push(Token::Comma);
                i += 1;
            }
            b'\'' | b'"' => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| ParseError::format("unterminated string in .npy header"))?;
                out.push(Token::Str(&h[i + 1..i + 1 + end]));
                i += end + 2;
            }
            b'0'..=b'9' => {
                let end = b[i..]
                    .iter()
                    .position(|x| !x.is_ascii_digit())
                    .unwrap_or(b.len() - i);
                let v = h[i..i + end].parse::<usize>().map_err(|_| {
                    ParseError::format(format!("dimension {} too large", &h[i..i + end]))
                })?;
                out.push(Token::Int(v));
                i += end;
                // Python 2 era headers write long integers as `3L`.
                if b.get(i) == Some(&b'L') {
                    i += 1;
                }
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let end = b[i..]
                    .iter()
                    .position(|x| !(x.is_ascii_alphanumeric() || *x == b'_'))
                    .unwrap_or(b.len() - i);
                out.push(Token::Ident(&h[i..i + end]));
                i += end;
            }
            _ => {
                return Err(ParseError::format(format!(
                    "unexpected character {:?} in .npy header",
                    c as char
                )))
            }
        }
    }
    Ok(out)
}

/// Parses the header dict `{'descr': .., 'fortran_order': .., 'shape': (..), }`.
fn parse_header(h: &str) -> Result<(Descr, bool, Vec<usize>), ParseError> {
    let toks = tokenize(h)?;
    let bad = |what: &str| ParseError::format(format!("malformed .npy header ({what}): {h:?}"));
    let mut t = toks.iter().peekable();
    if t.next() != Some(&Token::Open('{')) {
        return Err(bad("no opening brace"));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        match t.next() {
            Some(Token::Close('}')) => break,
            Some(Token::Str(key)) => {
                if t.next() != Some(&Token::Colon) {
                    return Err(bad("missing colon"));
                }
                match *key {
                    "descr" if descr.is_none() => {
                        descr = Some(match t.next() {
                            Some(Token::Str("<f8")) => Descr::F64,
                            Some(Token::Str("<i8")) => Descr::I64,
                            Some(Token::Str("|O")) => Descr::Object,
                            Some(Token::Str(other)) => {
                                return Err(ParseError::format(format!(
                                    "unsupported dtype {other:?} (accepted: '<f8', '<i8', '|O')"
                                )))
                            }
                            _ => return Err(bad("descr is not a string")),
                        })
                    }
                    "fortran_order" if fortran.is_none() => {
                        fortran = Some(match t.next() {
                            Some(Token::Ident("True")) => true,
                            Some(Token::Ident("False")) => false,
                            _ => return Err(bad("fortran_order is not True/False")),
                        })
                    }
                    "shape" if shape.is_none() => {
                        if t.next() != Some(&Token::Open('(')) {
                            return Err(bad("shape is not a tuple"));
                        }
                        let mut dims = Vec::new();
                        loop {
                            match t.next() {
                                Some(Token::Close(')')) => break,
                                Some(Token::Int(d)) => {
                                    dims.push(*d);
                                    match t.next() {
                                        Some(Token::Comma) => {}
                                        Some(Token::Close(')')) => break,
                                        _ => return Err(bad("shape tuple")),
                                    }
                                }
                                _ => return Err(bad("shape tuple")),
                            }
                        }
                        shape = Some(dims);
                    }
                    _ => return Err(bad("unknown or repeated key")),
                }
                match t.next() {
                    Some(Token::Comma) => {}
                    Some(Token::Close('}')) => break,
                    _ => return Err(bad("missing comma")),
                }
            }
            _ => return Err(bad("expected a key")),
        }
    }
    if t.next().is_some() {
        return Err(bad("text after the closing brace"));
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        _ => Err(bad("descr, fortran_order or shape missing")),
    }
}

/// Writes a version 1.0 `.npy` file of `<f8` values in C order (used by tests and fixtures;
/// the crate itself only reads).
pub fn write_f64(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut out = header_bytes("<f8", shape);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a version 1.0 `.npy` file of `<i8` values in C order.
pub fn write_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    let mut out = header_bytes("<i8", shape);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a version 1.0 `.npy` file of a 1-D object array of numeric arrays (pickled).
pub fn write_objects(elements: &[Element]) -> Vec<u8> {
    let mut out = header_bytes("|O", &[elements.len()]);
    out.extend_from_slice(&pickle::write_object_array(elements));
    out
}

/// Version 1.0 header padded (as numpy does) so that the payload starts at a multiple of 64.
pub(crate) fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let total = MAGIC.len() + 4 + dict.len() + 1;
    dict.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    dict.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}
