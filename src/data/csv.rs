//! The connectome table as the seed writes it (pandas `DataFrame.to_csv`): a header
//! `,0,1,…,N-1`, then N rows `i,c_i0,…,c_i(N-1)` of synapse counts.
use super::ParseError;

/// A parsed square table: `n` and the values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Square {
    pub n: usize,
    pub values: Vec<f64>,
}

/// Parses a connectome CSV held in memory. The header fixes N; every row must carry its index
/// and exactly N values. Values are numbers (integers or decimals, NaN rejected by the caller
/// with the file's name); nothing here allocates more than the input's size.
pub fn parse_connectome(bytes: &[u8]) -> Result<Square, ParseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ParseError::format(format!("not UTF-8 text ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .peekable();
    let (_, header) = lines
        .next()
        .filter(|(_, h)| !h.is_empty())
        .ok_or_else(|| ParseError::format("empty file, no header"))?;
    let mut cols = header.split(',');
    if cols.next() != Some("") {
        return Err(ParseError::format(format!(
            "header must start with an empty index column (`,0,1,…`), found {:?}",
            truncate(header)
        )));
    }
    let mut n = 0usize;
    for (j, c) in cols.enumerate() {
        if c.trim().parse::<usize>() != Ok(j) {
            return Err(ParseError::format(format!(
                "header column {} is {:?}, expected \"{j}\"",
                j + 1,
                truncate(c)
            )));
        }
        n = j + 1;
    }
    // Each value needs at least two bytes ("0,"), which bounds the allocation by the input.
    let mut values = Vec::with_capacity(n.saturating_mul(n).min(bytes.len() / 2));
    let mut rows = 0usize;
    while let Some((lineno, line)) = lines.next() {
        if line.is_empty() && lines.peek().is_none() {
            break; // the final newline
        }
        if rows == n {
            return Err(ParseError::shape(
                format!("{n} rows (header has {n} columns)"),
                format!("a row {} at line {}", rows, lineno + 1),
            ));
        }
        let mut fields = line.split(',');
        let index = fields.next().unwrap_or("");
        if index.trim().parse::<usize>() != Ok(rows) {
            return Err(ParseError::format(format!(
                "line {}: row index {:?}, expected \"{rows}\"",
                lineno + 1,
                truncate(index)
            )));
        }
        let before = values.len();
        for f in fields {
            if values.len() - before == n {
                return Err(ParseError::shape(
                    format!("{n} values in row {rows}"),
                    "more".to_string(),
                ));
            }
            let v = f.trim().parse::<f64>().map_err(|_| {
                ParseError::format(format!(
                    "line {}: {:?} is not a number",
                    lineno + 1,
                    truncate(f)
                ))
            })?;
            values.push(v);
        }
        if values.len() - before != n {
            return Err(ParseError::shape(
                format!("{n} values in row {rows}"),
                format!("{}", values.len() - before),
            ));
        }
        rows += 1;
    }
    if rows != n {
        return Err(ParseError::shape(
            format!("{n} rows (header has {n} columns)"),
            format!("{rows}"),
        ));
    }
    Ok(Square { n, values })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Writes a square matrix in the seed's connectome layout (integers without a decimal point,
/// other values in Rust's shortest round-trip form).
pub fn write_square(m: &faer::Mat<f64>) -> Vec<u8> {
    use std::fmt::Write;
    let n = m.nrows();
    let mut s = String::new();
    for j in 0..n {
        let _ = write!(s, ",{j}");
    }
    s.push('\n');
    for i in 0..n {
        let _ = write!(s, "{i}");
        for j in 0..n {
            let v = m[(i, j)];
            if v.fract() == 0.0 && v.abs() < 1e15 {
                let _ = write!(s, ",{}", v as i64);
            } else {
                let _ = write!(s, ",{v}");
            }
        }
        s.push('\n');
    }
    s.into_bytes()
}
