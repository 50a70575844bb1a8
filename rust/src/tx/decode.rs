//! Strict decoding of a transaction and of a block's entry list (docs/protocol.md, section 1).
//!
//! Pure Rust, no Python: it mirrors `fontana.models.codec` rule for rule, in the order of
//! section 1.3, and names the failing field with the same dotted path and message. Every
//! length is checked against what is left before anything is read, so hostile sizes cost
//! nothing and never panic (no indexing, only checked slicing).

use std::fmt::Write as _;

pub const TX_VERSION: u8 = 1;
pub const MAX_INPUTS: usize = 64;
pub const MAX_OUTPUTS: usize = 64;
pub const MAX_WITNESSES: usize = 64;
pub const MAX_MEMO: usize = 256;
pub const CHAIN_ID_MAX: usize = 32;
pub const KIND_WITHDRAWAL: u8 = 3;
pub const MAX_ENTRY_BODY: usize = 1 << 20;
pub const MAX_BLOCK_ENTRIES: usize = 65_536;
pub const ENTRY_TRANSACTION: u8 = 1;
const ENTRY_TYPES: u8 = 4;

/// Which `fontana.errors` class a broken rule raises: its `code` is the normative part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `EncodingError`, code `malformed`.
    Malformed,
    /// `AmountError`, code `bad_amount`.
    BadAmount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: Code,
    pub message: String,
    /// Text the message quotes with [`py_repr`]; the Python binding swaps in Python's
    /// exact `repr` (which escapes every non-printable character, by Unicode's tables).
    pub quoted: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutPointRef<'a> {
    pub txid: &'a [u8],
    pub index: u16,
}

#[derive(Debug, Clone, Copy)]
pub struct OutputRef<'a> {
    pub owner: &'a [u8],
    pub amount: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct WithdrawalRef<'a> {
    pub l1_recipient: &'a [u8],
    pub amount: u64,
    pub token: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct WitnessRef<'a> {
    pub pubkey: &'a [u8],
    pub signature: &'a [u8],
}

/// A decoded transaction, borrowing from the input.
#[derive(Debug, Clone)]
pub struct Tx<'a> {
    pub kind: u8,
    pub chain_id: &'a str,
    pub inputs: Vec<OutPointRef<'a>>,
    pub outputs: Vec<OutputRef<'a>>,
    pub fee: u64,
    pub expiry_ms: u64,
    pub payload_hash: Option<&'a [u8]>,
    pub memo: &'a [u8],
    pub withdrawal: Option<WithdrawalRef<'a>>,
    pub witnesses: Vec<WitnessRef<'a>>,
    /// The unsigned encoding (every field but the witnesses): what the txid hashes.
    pub unsigned: &'a [u8],
    /// The whole encoding, witnesses included.
    pub encoded: &'a [u8],
}

enum Part {
    Name(&'static str),
    Index(usize),
}

/// A cursor that names the dotted path of the field in every error, as `fontana.encoding.Reader`.
pub struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
    pub end: usize,
    base: String,
    path: Vec<Part>,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], what: &str) -> Self {
        Reader {
            data,
            pos: 0,
            end: data.len(),
            base: what.to_owned(),
            path: Vec::new(),
        }
    }

    /// A reader over `data[pos..]`, as if it had read up to `pos` already.
    pub fn at(data: &'a [u8], pos: usize, what: &str) -> Self {
        let mut r = Reader::new(data, what);
        r.pos = pos.min(data.len());
        r
    }

    fn push(&mut self, part: Part) {
        self.path.push(part);
    }

    fn pop(&mut self) {
        self.path.pop();
    }

    pub fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn path(&self, field: &str) -> String {
        let mut out = self.base.clone();
        for part in &self.path {
            match part {
                Part::Name(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Part::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        if !field.is_empty() {
            out.push('.');
            out.push_str(field);
        }
        out
    }

    pub fn error(&self, field: &str, message: &str) -> DecodeError {
        self.error_code(field, message, Code::Malformed)
    }

    fn error_code(&self, field: &str, message: &str, code: Code) -> DecodeError {
        DecodeError {
            code,
            message: format!("{}: {message}", self.path(field)),
            quoted: None,
        }
    }

    pub fn take(&mut self, size: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        let left = self.remaining();
        if left < size {
            return Err(self.error(
                field,
                &format!("truncated, needs {size} bytes, {left} left"),
            ));
        }
        let start = self.pos;
        self.pos = start + size;
        self.data
            .get(start..self.pos)
            .ok_or_else(|| self.error(field, "out of range"))
    }

    pub fn uint(&mut self, size: usize, field: &str) -> Result<u64, DecodeError> {
        let bytes = self.take(size, field)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn amount(&mut self, field: &str) -> Result<u64, DecodeError> {
        let value = self.uint(8, field)?;
        if value == 0 {
            return Err(self.error_code(field, "0 is not a positive u64", Code::BadAmount));
        }
        Ok(value)
    }

    /// A list count, bounded on the prefix before any item is read.
    fn count(
        &mut self,
        size: usize,
        field: &str,
        lo: usize,
        hi: usize,
    ) -> Result<usize, DecodeError> {
        let raw = self.uint(size, field)?;
        let n = usize::try_from(raw).unwrap_or(usize::MAX);
        if n > hi {
            return Err(self.error(field, &format!("{raw} items, above the maximum {hi}")));
        }
        if n < lo {
            return Err(self.error(field, &format!("{raw} items, below the minimum {lo}")));
        }
        Ok(n)
    }

    fn option(&mut self, field: &str) -> Result<bool, DecodeError> {
        match self.uint(1, field)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(self.error(field, &format!("option tag {tag}, expected 0 or 1"))),
        }
    }

    /// The input (or sub-range) must be filled exactly.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.pos != self.end {
            return Err(self.error("", &format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// Python's `f"{text!r:.40}"` for the chain ids in messages (the message is not normative;
/// this matches it for printable text).
pub fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out.chars().take(40).collect()
}

fn chain_id<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let field = "chain_id";
    let n = r.uint(1, field)? as usize;
    if n > CHAIN_ID_MAX {
        return Err(r.error(
            field,
            &format!("length {n} above the maximum {CHAIN_ID_MAX}"),
        ));
    }
    let raw = r.take(n, field)?;
    let text = std::str::from_utf8(raw).map_err(|_| r.error(field, "not valid UTF-8"))?;
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        let shown = py_repr(text);
        let mut error = r.error(
            field,
            &format!("{shown} is not 1..32 characters of [a-z0-9-]"),
        );
        error.quoted = Some(text.to_owned());
        return Err(error);
    }
    Ok(text)
}

fn outpoints<'a>(r: &mut Reader<'a>) -> Result<Vec<OutPointRef<'a>>, DecodeError> {
    let n = r.count(2, "inputs", 1, MAX_INPUTS)?;
    let mut items = Vec::with_capacity(n);
    r.push(Part::Name("inputs"));
    for i in 0..n {
        r.push(Part::Index(i));
        let txid = r.take(32, "txid")?;
        let index = r.uint(2, "index")? as u16;
        items.push(OutPointRef { txid, index });
        r.pop();
    }
    r.pop();
    if has_repeats(&items, |a, b| a == b) {
        return Err(r.error("inputs", "the same outpoint is spent twice"));
    }
    Ok(items)
}

fn outputs<'a>(r: &mut Reader<'a>) -> Result<Vec<OutputRef<'a>>, DecodeError> {
    let n = r.count(2, "outputs", 0, MAX_OUTPUTS)?;
    let mut items = Vec::with_capacity(n);
    r.push(Part::Name("outputs"));
    for i in 0..n {
        r.push(Part::Index(i));
        let owner = r.take(32, "owner")?;
        let amount = r.amount("amount")?;
        items.push(OutputRef { owner, amount });
        r.pop();
    }
    r.pop();
    Ok(items)
}

fn witnesses<'a>(r: &mut Reader<'a>) -> Result<Vec<WitnessRef<'a>>, DecodeError> {
    let n = r.count(2, "witnesses", 0, MAX_WITNESSES)?;
    let mut items = Vec::with_capacity(n);
    r.push(Part::Name("witnesses"));
    for i in 0..n {
        r.push(Part::Index(i));
        let pubkey = r.take(32, "pubkey")?;
        let signature = r.take(64, "signature")?;
        items.push(WitnessRef { pubkey, signature });
        r.pop();
    }
    r.pop();
    if has_repeats(&items, |a, b| a.pubkey == b.pubkey) {
        return Err(r.error("witnesses", "the same key signs twice"));
    }
    Ok(items)
}

/// Whether two items are equal; lists hold at most 64, so pairwise is cheapest.
fn has_repeats<T>(items: &[T], same: impl Fn(&T, &T) -> bool) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| same(a, b)))
}

/// One transaction at the reader's position (not checking what follows it).
pub fn read_tx<'a>(r: &mut Reader<'a>) -> Result<Tx<'a>, DecodeError> {
    let start = r.pos;
    let version = r.uint(1, "version")?;
    if version != u64::from(TX_VERSION) {
        return Err(r.error(
            "version",
            &format!("unsupported version {version}, expected 1"),
        ));
    }
    let kind = r.uint(1, "kind")? as u8;
    if !(1..=3).contains(&kind) {
        return Err(r.error("kind", &format!("unknown value {kind}")));
    }
    let chain_id = chain_id(r)?;
    let inputs = outpoints(r)?;
    let outputs = outputs(r)?;
    let fee = r.uint(8, "fee")?;
    let expiry_ms = r.uint(8, "expiry_ms")?;
    let payload_hash = if r.option("payload_hash")? {
        Some(r.take(32, "payload_hash")?)
    } else {
        None
    };
    let memo_len = r.uint(4, "memo")?;
    if memo_len > MAX_MEMO as u64 {
        return Err(r.error(
            "memo",
            &format!("length {memo_len} above the maximum {MAX_MEMO}"),
        ));
    }
    let memo = r.take(memo_len as usize, "memo")?;
    let withdrawal = if r.option("withdrawal")? {
        r.push(Part::Name("withdrawal"));
        let l1_recipient = r.take(20, "l1_recipient")?;
        let amount = r.amount("amount")?;
        let token = r.take(20, "token")?;
        r.pop();
        Some(WithdrawalRef {
            l1_recipient,
            amount,
            token,
        })
    } else {
        None
    };
    let unsigned_end = r.pos;
    let witnesses = witnesses(r)?;
    if (kind == KIND_WITHDRAWAL) != withdrawal.is_some() {
        return Err(r.error("withdrawal", "present if and only if kind is withdrawal"));
    }
    let unsigned = r.data.get(start..unsigned_end).unwrap_or_default();
    let encoded = r.data.get(start..r.pos).unwrap_or_default();
    Ok(Tx {
        kind,
        chain_id,
        inputs,
        outputs,
        fee,
        expiry_ms,
        payload_hash,
        memo,
        withdrawal,
        witnesses,
        unsigned,
        encoded,
    })
}

/// `Transaction.from_bytes`: exactly one transaction.
pub fn decode_tx(data: &[u8]) -> Result<Tx<'_>, DecodeError> {
    let mut r = Reader::new(data, "transaction");
    let tx = read_tx(&mut r)?;
    r.finish()?;
    Ok(tx)
}

/// One entry of a block: a decoded transaction, or another type's body left to Python.
pub enum EntryRef<'a> {
    Tx(Tx<'a>),
    Other { kind: u8, body: &'a [u8] },
}

/// A block's entries, `u32 count || entries`, from `pos` in `data` (the block's bytes).
///
/// Returns the entries decoded before the first broken rule, and that rule's error if any:
/// an earlier entry of another type, decoded by the caller in order, may break a rule first.
pub struct Entries<'a> {
    pub entries: Vec<EntryRef<'a>>,
    pub end: usize,
    pub error: Option<DecodeError>,
}

pub fn read_entries<'a>(
    data: &'a [u8],
    pos: usize,
    tx_count: u64,
) -> Result<Entries<'a>, DecodeError> {
    let mut r = Reader::at(data, pos, "block");
    let count = r.count(4, "entries", 0, MAX_BLOCK_ENTRIES)?;
    if count as u64 != tx_count {
        return Err(r.error(
            "entries",
            &format!("{count} entries but header.tx_count is {tx_count}"),
        ));
    }
    // Each entry takes at least 5 bytes: never reserve more than the input can hold.
    let mut entries = Vec::with_capacity(count.min(r.remaining() / 5 + 1));
    r.push(Part::Name("entries"));
    for i in 0..count {
        r.push(Part::Index(i));
        match read_entry(&mut r) {
            Ok(entry) => entries.push(entry),
            Err(error) => {
                return Ok(Entries {
                    entries,
                    end: r.pos,
                    error: Some(error),
                })
            }
        }
        r.pop();
    }
    Ok(Entries {
        entries,
        end: r.pos,
        error: None,
    })
}

fn read_entry<'a>(r: &mut Reader<'a>) -> Result<EntryRef<'a>, DecodeError> {
    let kind = r.uint(1, "type")? as u8;
    if !(1..=ENTRY_TYPES).contains(&kind) {
        return Err(r.error("type", &format!("unknown value {kind}")));
    }
    let n = r.uint(4, "body")?;
    if n > MAX_ENTRY_BODY as u64 {
        return Err(r.error(
            "body",
            &format!("length {n} above the maximum {MAX_ENTRY_BODY}"),
        ));
    }
    let n = n as usize;
    let left = r.remaining();
    if left < n {
        return Err(r.error("body", &format!("truncated, needs {n} bytes, {left} left")));
    }
    if kind != ENTRY_TRANSACTION {
        let body = r.take(n, "body")?;
        return Ok(EntryRef::Other { kind, body });
    }
    let outer_end = r.end;
    r.end = r.pos + n;
    r.push(Part::Name("transaction"));
    let tx = read_tx(r)?;
    r.finish()?;
    r.pop();
    r.end = outer_end;
    Ok(EntryRef::Tx(tx))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transfer with one input, one output, a memo and one witness.
    fn sample() -> Vec<u8> {
        let mut out = vec![1, 1, 3];
        out.extend_from_slice(b"dev");
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&[7; 32]);
        out.extend_from_slice(&[0, 2]);
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&[8; 32]);
        out.extend_from_slice(&5u64.to_be_bytes());
        out.extend_from_slice(&1u64.to_be_bytes());
        out.extend_from_slice(&9u64.to_be_bytes());
        out.push(0);
        out.extend_from_slice(&[0, 0, 0, 2, 0xaa, 0xbb]);
        out.push(0);
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&[9; 96]);
        out
    }

    #[test]
    fn decodes_a_transaction() {
        let data = sample();
        let tx = decode_tx(&data).expect("valid");
        assert_eq!(
            (tx.kind, tx.chain_id, tx.fee, tx.expiry_ms),
            (1, "dev", 1, 9)
        );
        assert_eq!(
            tx.inputs,
            vec![OutPointRef {
                txid: &[7; 32],
                index: 2
            }]
        );
        assert_eq!(tx.memo, &[0xaa, 0xbb]);
        assert_eq!(tx.encoded, &data[..]);
        assert_eq!(tx.unsigned.len(), data.len() - 2 - 96);
    }

    #[test]
    fn names_the_field_and_the_rule() {
        let data = sample();
        let err = decode_tx(&data[..10]).expect_err("truncated");
        assert_eq!(
            err.message,
            "transaction.inputs[0].txid: truncated, needs 32 bytes, 2 left"
        );
        let mut zero = data.clone();
        zero[76..84].copy_from_slice(&[0; 8]);
        let err = decode_tx(&zero).expect_err("zero amount");
        assert_eq!(err.code, Code::BadAmount);
        assert_eq!(
            err.message,
            "transaction.outputs[0].amount: 0 is not a positive u64"
        );
        let mut upper = data.clone();
        upper[3] = b'D';
        let err = decode_tx(&upper).expect_err("chain id");
        assert_eq!(
            err.message,
            "transaction.chain_id: 'Dev' is not 1..32 characters of [a-z0-9-]"
        );
        let mut long = data;
        long.push(0);
        assert_eq!(
            decode_tx(&long).expect_err("trailing").message,
            "transaction: 1 trailing bytes"
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        let data = sample();
        for n in 0..data.len() {
            assert!(decode_tx(&data[..n]).is_err());
        }
        for i in 0..data.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut m = data.clone();
                m[i] = v;
                let _ = decode_tx(&m);
            }
        }
        let huge = [0xffu8; 64];
        assert!(decode_tx(&huge).is_err());
        for pos in [0, 1, 1000] {
            assert!(read_entries(&huge, pos, 5).is_err());
        }
        let entries =
            read_entries(&[0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff], 0, 1).expect("framing");
        assert!(entries.error.is_some() && entries.entries.is_empty());
    }
}
