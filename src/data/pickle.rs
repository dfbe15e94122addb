//! A small, strict pickle interpreter for one thing only: a numpy object array (`dtype=object`,
//! 1-D) whose elements are 1-D `float64` or `int64` arrays — the layout of the seed's
//! `positions_<id>.npy` and `spikes_<id>.npy`.
//!
//! It understands the opcodes numpy and CPython emit for that object at protocols 2–5:
//! `numpy.core.multiarray._reconstruct` / `numpy._core.multiarray._reconstruct` (numpy 1 / 2)
//! with `numpy.ndarray` and `numpy.dtype`, REDUCE, BUILD with the raw little-endian buffer
//! (`*BINBYTES*`, Python-2 `*BINSTRING`, protocol-2 `_codecs.encode(str, 'latin1')`, or the
//! protocol-5 `numpy._core.numeric._frombuffer(bytearray, dtype, shape, order)`), tuples,
//! lists, marks, the memo and frames. Any other global is refused, so a hostile file cannot
//! make it do more than build arrays.
//!
//! Safety against hostile input: every length read from the stream is checked against the
//! bytes that remain before anything is allocated; values are shared (`Rc`) so memo fetches
//! copy nothing; the one copying operation (appending to a list the memo also holds) is
//! charged to a work budget proportional to the input; and the arrays it returns may not hold
//! more data than the stream contained. There are no loops without progress through the input,
//! so a truncated or malicious stream ends in an error, never a panic, a hang or a huge
//! allocation.
use super::ParseError;
use std::collections::HashMap;
use std::rc::Rc;

/// One element of a numpy object array: a 1-D numeric array.
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Element {
    pub fn len(&self) -> usize {
        match self {
            Element::F64(v) => v.len(),
            Element::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element's dtype as numpy writes it, for error messages.
    pub fn descr(&self) -> &'static str {
        match self {
            Element::F64(_) => "<f8",
            Element::I64(_) => "<i8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    Reconstruct,
    Ndarray,
    Dtype,
    CodecsEncode,
    Bytes,
    FromBuffer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    F8,
    I8,
    Object,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Bytes(Rc<[u8]>),
    Str(Rc<str>),
    Tuple(Rc<Seq>),
    List(Rc<Seq>),
    Global(Global),
    Dtype(Kind),
    /// An ndarray by identity: its state lives in `Vm::arrays` so that BUILD, which in Python
    /// mutates the object in place, is seen by every memo reference to it.
    Array(usize),
}

/// The items of a tuple or list and how deeply containers nest inside it: a hostile stream could
/// otherwise nest a million tuples and overflow the stack when they are dropped.
#[derive(Debug, Clone, Default)]
struct Seq {
    items: Vec<Value>,
    depth: usize,
}

/// Far deeper than numpy needs (state tuple → list → array; arrays are held by identity).
const MAX_DEPTH: usize = 16;

impl Seq {
    fn new(items: Vec<Value>) -> Result<Rc<Seq>, ParseError> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(err(format!("containers nested deeper than {MAX_DEPTH}")));
        }
        Ok(Rc::new(Seq { items, depth }))
    }
}

impl std::ops::Deref for Seq {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.items
    }
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Value::Tuple(s) | Value::List(s) => s.depth,
            _ => 0,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Global(_) => "global",
            Value::Dtype(_) => "dtype",
            Value::Array(_) => "ndarray",
        }
    }
}

#[derive(Debug)]
enum ArrayData {
    Raw(Rc<[u8]>),
    Objects(Rc<Seq>),
}

#[derive(Debug)]
struct ArrayState {
    shape: Vec<usize>,
    kind: Kind,
    data: ArrayData,
}

struct Vm<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// `None` until the array's BUILD has run.
    arrays: Vec<Option<ArrayState>>,
    /// Values copied so far by copy-on-write list appends; capped by the input length.
    work: usize,
}

fn err(reason: impl Into<String>) -> ParseError {
    ParseError::format(reason)
}

/// Parses a pickle stream holding a 1-D numpy object array of 1-D `<f8`/`<i8` arrays.
pub fn parse_object_array(bytes: &[u8]) -> Result<Vec<Element>, ParseError> {
    let mut vm = Vm {
        input: bytes,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        arrays: Vec::new(),
        work: 0,
    };
    let top = vm.run()?;
    vm.object_array(top)
}

impl<'a> Vm<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let input: &'a [u8] = self.input;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= input.len())
            .ok_or_else(|| {
                err(format!(
                    "pickle truncated: {n} bytes wanted at offset {}, {} left",
                    self.pos,
                    input.len() - self.pos
                ))
            })?;
        let s = &input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    fn le<const K: usize>(&mut self) -> Result<[u8; K], ParseError> {
        let mut a = [0u8; K];
        a.copy_from_slice(self.take(K)?);
        Ok(a)
    }

    /// A length prefix of `K` bytes, checked against what remains of the input.
    fn len_prefix<const K: usize>(&mut self) -> Result<usize, ParseError> {
        let mut a = [0u8; 8];
        a[..K].copy_from_slice(&self.le::<K>()?);
        let n = u64::from_le_bytes(a);
        let left = (self.input.len() - self.pos) as u64;
        if n > left {
            return Err(err(format!(
                "pickle truncated: length {n} at offset {} but only {left} bytes left",
                self.pos
            )));
        }
        Ok(n as usize)
    }

    fn pop(&mut self) -> Result<Value, ParseError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(err(format!(
                "pickle stack underflow at offset {}",
                self.pos
            )));
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, ParseError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| err(format!("no MARK before offset {}", self.pos)))?;
        Ok(self.stack.split_off(m))
    }

    fn str_utf8(&mut self, n: usize) -> Result<Value, ParseError> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b)
            .map_err(|_| err(format!("invalid UTF-8 string at offset {}", self.pos - n)))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn bytes(&mut self, n: usize) -> Result<Value, ParseError> {
        Ok(Value::Bytes(Rc::from(self.take(n)?)))
    }

    fn memo_get(&self, key: u32) -> Result<Value, ParseError> {
        self.memo
            .get(&key)
            .cloned()
            .ok_or_else(|| err(format!("memo key {key} not defined (offset {})", self.pos)))
    }

    fn memo_put(&mut self, key: u32) -> Result<(), ParseError> {
        let v = self
            .stack
            .last()
            .cloned()
            .ok_or_else(|| err(format!("memo store on empty stack at offset {}", self.pos)))?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn global(module: &str, name: &str) -> Result<Global, ParseError> {
        Ok(match (module, name) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Global::Reconstruct
            }
            ("numpy", "ndarray") => Global::Ndarray,
            ("numpy", "dtype") => Global::Dtype,
            ("_codecs", "encode") => Global::CodecsEncode,
            ("__builtin__" | "builtins", "bytes") => Global::Bytes,
            ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Global::FromBuffer,
            _ => {
                return Err(err(format!(
                    "pickle refers to {module}.{name}, which a numpy object array never needs"
                )))
            }
        })
    }

    /// Appends to a list, copying it first if the memo shares it (Python would mutate the
    /// shared object; for the layouts numpy writes the memo copy is never read back). The copy
    /// is charged to the work budget so repeated appends cannot grow quadratically.
    fn append(&mut self, items: Vec<Value>) -> Result<(), ParseError> {
        let list = self.pop()?;
        let Value::List(mut list) = list else {
            return Err(err(format!(
                "APPEND to a {} at offset {}",
                list.name(),
                self.pos
            )));
        };
        if Rc::strong_count(&list) > 1 {
            self.work += list.len();
            if self.work > self.input.len() {
                return Err(err("pickle copies lists more than its size allows"));
            }
        }
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(err(format!("containers nested deeper than {MAX_DEPTH}")));
        }
        let seq = Rc::make_mut(&mut list);
        seq.depth = seq.depth.max(depth);
        seq.items.extend(items);
        self.stack.push(Value::List(list));
        Ok(())
    }

    fn run(&mut self) -> Result<Value, ParseError> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if !(2..=5).contains(&proto) {
                        return Err(err(format!("pickle protocol {proto} (only 2-5 are read)")));
                    }
                }
                // FRAME: the framed bytes are read as ordinary opcodes; only check the length.
                0x95 => {
                    self.len_prefix::<8>()?;
                }
                b'.' => {
                    let top = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(err("pickle stack not empty at STOP"));
                    }
                    if self.pos != self.input.len() {
                        return Err(err(format!(
                            "{} trailing bytes after the pickle's STOP",
                            self.input.len() - self.pos
                        )));
                    }
                    return Ok(top);
                }
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.stack.push(Value::Tuple(Seq::new(Vec::new())?)),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Seq::new(items)?));
                }
                0x85..=0x87 => {
                    let k = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(k);
                    for _ in 0..k {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.stack.push(Value::Tuple(Seq::new(items)?));
                }
                b']' => self.stack.push(Value::List(Seq::new(Vec::new())?)),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Seq::new(items)?));
                }
                b'a' => {
                    let item = self.pop()?;
                    self.append(vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le::<4>()?);
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le::<2>()?);
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes; we need at most i64.
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return Err(err(format!("integer of {n} bytes at offset {at}")));
                    }
                    let b = self.take(n)?;
                    let mut a = [0u8; 8];
                    a[..n].copy_from_slice(b);
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        a[n..].fill(0xff);
                    }
                    self.stack.push(Value::Int(i64::from_le_bytes(a)));
                }
                b'C' | b'U' => {
                    let n = self.len_prefix::<1>()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'B' => {
                    let n = self.len_prefix::<4>()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'T' => {
                    // BINSTRING: a signed 4-byte length.
                    let raw = i32::from_le_bytes(self.le::<4>()?);
                    let n = usize::try_from(raw)
                        .map_err(|_| err(format!("negative string length at offset {at}")))?;
                    if n > self.input.len() - self.pos {
                        return Err(err(format!("pickle truncated: length {n} at offset {at}")));
                    }
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.len_prefix::<8>()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = self.len_prefix::<1>()?;
                    let v = self.str_utf8(n)?;
                    self.stack.push(v);
                }
                b'X' => {
                    let n = self.len_prefix::<4>()?;
                    let v = self.str_utf8(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.len_prefix::<8>()?;
                    let v = self.str_utf8(n)?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = Self::global(module, name)?;
                    self.stack.push(Value::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (&module, &name) {
                        (Value::Str(m), Value::Str(n)) => {
                            let g = Self::global(m, n)?;
                            self.stack.push(Value::Global(g));
                        }
                        _ => return Err(err(format!("STACK_GLOBAL of non-strings at {at}"))),
                    }
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len()).map_err(|_| err("memo overflow"))?;
                    self.memo_put(key)?;
                }
                b'q' => {
                    let key = self.u8()? as u32;
                    self.memo_put(key)?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(self.le::<4>()?);
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = self.u8()? as u32;
                    let v = self.memo_get(key)?;
                    self.stack.push(v);
                }
                b'j' => {
                    let key = u32::from_le_bytes(self.le::<4>()?);
                    let v = self.memo_get(key)?;
                    self.stack.push(v);
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args, at)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.pop()?;
                    self.build(&obj, state, at)?;
                    self.stack.push(obj);
                }
                _ => {
                    return Err(err(format!(
                        "unsupported pickle opcode 0x{op:02x} at offset {at}"
                    )))
                }
            }
        }
    }

    /// A newline-terminated ASCII line (protocol-2 GLOBAL arguments).
    fn line(&mut self) -> Result<&'a str, ParseError> {
        let input: &'a [u8] = self.input;
        let rest = &input[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| err("pickle truncated inside GLOBAL"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| err("GLOBAL name is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn new_array(&mut self, state: Option<ArrayState>) -> Value {
        self.arrays.push(state);
        Value::Array(self.arrays.len() - 1)
    }

    fn reduce(&mut self, callable: Value, args: Value, at: usize) -> Result<Value, ParseError> {
        let Value::Global(g) = callable else {
            return Err(err(format!(
                "REDUCE of a {} at offset {at}",
                callable.name()
            )));
        };
        let Value::Tuple(args) = args else {
            return Err(err(format!(
                "REDUCE arguments are not a tuple at offset {at}"
            )));
        };
        let bad = || err(format!("unexpected arguments to {g:?} at offset {at}"));
        match (g, &args[..]) {
            (
                Global::Reconstruct,
                [Value::Global(Global::Ndarray), Value::Tuple(shape), Value::Bytes(code)],
            ) if matches!(&shape[..], [Value::Int(0)]) && &code[..] == b"b" => {
                Ok(self.new_array(None))
            }
            (Global::Dtype, [Value::Str(code), Value::Bool(false), Value::Bool(true)]) => {
                Ok(Value::Dtype(match &code[..] {
                    "f8" => Kind::F8,
                    "i8" => Kind::I8,
                    "O8" => Kind::Object,
                    other => {
                        return Err(err(format!(
                            "dtype {other:?} (accepted: f8, i8, O8) at offset {at}"
                        )))
                    }
                }))
            }
            (Global::CodecsEncode, [Value::Str(s), Value::Str(enc)])
                if &enc[..] == "latin1" || &enc[..] == "latin-1" =>
            {
                let mut out = Vec::with_capacity(s.len());
                for ch in s.chars() {
                    let c = u32::from(ch);
                    if c > 0xff {
                        return Err(err(format!(
                            "character U+{c:04X} is not latin-1 (offset {at})"
                        )));
                    }
                    out.push(c as u8);
                }
                Ok(Value::Bytes(Rc::from(out)))
            }
            (Global::Bytes, []) => Ok(Value::Bytes(Rc::from(Vec::new()))),
            (
                Global::FromBuffer,
                [Value::Bytes(buf), Value::Dtype(kind), Value::Tuple(shape), Value::Str(order)],
            ) if (&order[..] == "C" || &order[..] == "F") && *kind != Kind::Object => {
                let shape = ints(shape).ok_or_else(bad)?;
                let state = ArrayState {
                    shape,
                    kind: *kind,
                    data: ArrayData::Raw(buf.clone()),
                };
                check_raw(&state, at)?;
                Ok(self.new_array(Some(state)))
            }
            _ => Err(bad()),
        }
    }

    fn build(&mut self, obj: &Value, state: Value, at: usize) -> Result<(), ParseError> {
        let Value::Tuple(state) = state else {
            return Err(err(format!("BUILD state is not a tuple at offset {at}")));
        };
        match obj {
            // numpy's dtype.__setstate__: (3, byteorder, subarray, names, fields, elsize,
            // alignment, flags). Only the byte order matters to us; a big-endian or structured
            // dtype is refused rather than silently misread.
            Value::Dtype(kind) => match &state[..] {
                [Value::Int(3), Value::Str(order), Value::None, Value::None, Value::None, Value::Int(_), Value::Int(_), Value::Int(_)] =>
                {
                    let ok = match kind {
                        Kind::Object => &order[..] == "|",
                        _ => &order[..] == "<" || &order[..] == "=",
                    };
                    if ok {
                        Ok(())
                    } else {
                        Err(err(format!(
                            "dtype byte order {order:?} for {kind:?} at offset {at} (little-endian only)"
                        )))
                    }
                }
                _ => Err(err(format!("unexpected dtype state at offset {at}"))),
            },
            // ndarray.__setstate__: (version, shape, dtype, is_fortran, data), version optional.
            Value::Array(id) => {
                let fields = match &state[..] {
                    [Value::Int(1), rest @ ..] if rest.len() == 4 => rest,
                    rest if rest.len() == 4 => rest,
                    _ => return Err(err(format!("unexpected ndarray state at offset {at}"))),
                };
                let [Value::Tuple(shape), Value::Dtype(kind), Value::Bool(_), data] = fields else {
                    return Err(err(format!("unexpected ndarray state at offset {at}")));
                };
                let shape =
                    ints(shape).ok_or_else(|| err(format!("bad array shape at offset {at}")))?;
                let data = match (kind, data) {
                    (Kind::Object, Value::List(items)) => ArrayData::Objects(items.clone()),
                    (Kind::F8 | Kind::I8, Value::Bytes(b)) => ArrayData::Raw(b.clone()),
                    (_, other) => {
                        return Err(err(format!(
                            "{kind:?} array with {} data at offset {at}",
                            other.name()
                        )))
                    }
                };
                let state = ArrayState {
                    shape,
                    kind: *kind,
                    data,
                };
                match &state.data {
                    ArrayData::Raw(_) => check_raw(&state, at)?,
                    ArrayData::Objects(items) => {
                        let count = state
                            .shape
                            .iter()
                            .try_fold(1usize, |a, &d| a.checked_mul(d));
                        if count != Some(items.len()) {
                            return Err(err(format!(
                                "object array of shape {:?} holds {} items (offset {at})",
                                state.shape,
                                items.len()
                            )));
                        }
                    }
                }
                let slot = &mut self.arrays[*id];
                if slot.is_some() {
                    return Err(err(format!("ndarray built twice at offset {at}")));
                }
                *slot = Some(state);
                Ok(())
            }
            other => Err(err(format!("BUILD of a {} at offset {at}", other.name()))),
        }
    }

    /// The top-level value as an object array of numeric 1-D arrays.
    fn object_array(&self, top: Value) -> Result<Vec<Element>, ParseError> {
        let Value::Array(id) = top else {
            return Err(err(format!(
                "pickle holds a {}, not an ndarray",
                top.name()
            )));
        };
        let outer = self.arrays[id]
            .as_ref()
            .ok_or_else(|| err("top-level ndarray never built"))?;
        let ArrayData::Objects(items) = &outer.data else {
            return Err(err("top-level ndarray is not an object array"));
        };
        if outer.shape.len() != 1 {
            return Err(ParseError::shape(
                "a 1-D object array",
                format!("shape {:?}", outer.shape),
            ));
        }
        // Every element's data came from the input, but the memo lets one buffer be referenced
        // many times: refuse to materialize more than the stream held.
        let mut budget = self.input.len();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::Array(eid) = item else {
                return Err(err(format!(
                    "element {i} is a {}, not an ndarray",
                    item.name()
                )));
            };
            let st = self.arrays[*eid]
                .as_ref()
                .ok_or_else(|| err(format!("element {i} is an ndarray never built")))?;
            let ArrayData::Raw(raw) = &st.data else {
                return Err(err(format!("element {i} is itself an object array")));
            };
            if st.shape.len() != 1 {
                return Err(ParseError::shape(
                    format!("element {i} 1-D"),
                    format!("shape {:?}", st.shape),
                ));
            }
            budget = budget
                .checked_sub(raw.len())
                .ok_or_else(|| err("pickle references more array data than it contains"))?;
            let words = raw.chunks_exact(8).map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                w
            });
            out.push(match st.kind {
                Kind::F8 => Element::F64(words.map(f64::from_le_bytes).collect()),
                Kind::I8 => Element::I64(words.map(i64::from_le_bytes).collect()),
                Kind::Object => return Err(err(format!("element {i} has object dtype"))),
            });
        }
        Ok(out)
    }
}

fn ints(t: &[Value]) -> Option<Vec<usize>> {
    t.iter()
        .map(|v| match v {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        })
        .collect()
}

fn check_raw(st: &ArrayState, at: usize) -> Result<(), ParseError> {
    let ArrayData::Raw(raw) = &st.data else {
        return Ok(());
    };
    let want = st.shape.iter().try_fold(8usize, |a, &d| a.checked_mul(d));
    if want != Some(raw.len()) {
        return Err(err(format!(
            "array of shape {:?} has {} data bytes, needs {} (offset {at})",
            st.shape,
            raw.len(),
            want.map_or("more than usize".into(), |w| w.to_string())
        )));
    }
    Ok(())
}

/// Writes `elements` as numpy (protocol 4, numpy 2 module names) would pickle the object
/// array, minus the memo and frames. For tests and fixtures; the crate itself only reads.
pub fn write_object_array(elements: &[Element]) -> Vec<u8> {
    let mut p = vec![0x80, 4];
    let sglobal = |p: &mut Vec<u8>, m: &str, n: &str| {
        for s in [m, n] {
            p.push(0x8c);
            p.push(s.len() as u8);
            p.extend_from_slice(s.as_bytes());
        }
        p.push(0x93);
    };
    let int = |p: &mut Vec<u8>, v: i64| {
        if (0..256).contains(&v) {
            p.extend_from_slice(&[b'K', v as u8]);
        } else {
            p.push(b'J');
            p.extend_from_slice(&(v as i32).to_le_bytes());
        }
    };
    let sstr = |p: &mut Vec<u8>, s: &str| {
        p.push(0x8c);
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
    };
    let reconstruct = |p: &mut Vec<u8>| {
        sglobal(p, "numpy._core.multiarray", "_reconstruct");
        sglobal(p, "numpy", "ndarray");
        p.extend_from_slice(&[b'K', 0, 0x85, b'C', 1, b'b', 0x87, b'R']);
    };
    let dtype = |p: &mut Vec<u8>, code: &str, order: &str| {
        sglobal(p, "numpy", "dtype");
        sstr(p, code);
        p.extend_from_slice(&[0x89, 0x88, 0x87, b'R', b'(', b'K', 3]);
        sstr(p, order);
        p.extend_from_slice(b"NNN");
        int(p, -1);
        int(p, -1);
        int(p, if code == "O8" { 63 } else { 0 });
        p.extend_from_slice(b"tb");
    };
    reconstruct(&mut p);
    p.extend_from_slice(&[b'(', b'K', 1]);
    int(&mut p, elements.len() as i64);
    p.push(0x85);
    dtype(&mut p, "O8", "|");
    p.extend_from_slice(&[0x89, b']', b'(']);
    for e in elements {
        reconstruct(&mut p);
        p.extend_from_slice(&[b'(', b'K', 1]);
        int(&mut p, e.len() as i64);
        p.push(0x85);
        let mut raw = Vec::with_capacity(8 * e.len());
        match e {
            Element::F64(v) => {
                dtype(&mut p, "f8", "<");
                v.iter()
                    .for_each(|x| raw.extend_from_slice(&x.to_le_bytes()));
            }
            Element::I64(v) => {
                dtype(&mut p, "i8", "<");
                v.iter()
                    .for_each(|x| raw.extend_from_slice(&x.to_le_bytes()));
            }
        }
        p.push(0x89);
        p.push(b'B');
        p.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        p.extend_from_slice(&raw);
        p.extend_from_slice(b"tb");
    }
    p.extend_from_slice(b"etb.");
    p
}
