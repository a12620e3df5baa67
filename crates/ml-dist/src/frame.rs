//! Messages between ranks: the operation codes, the frame header every message carries, and the
//! little-endian encoding of the element types an all-reduce combines.
//!
//! On the wire (TCP ring) a frame is the 25-byte header followed by `len` payload bytes:
//! `len: u64 LE | op: u8 | seq: u64 LE | aux: u64 LE | payload`. The in-process transport passes
//! the same header and payload through a channel without encoding them.

use std::cmp::Ordering;

/// The collective operation a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    SumI64 = 1,
    SumI128 = 2,
    MaxF64 = 3,
    MaxI64 = 4,
    AllGather = 5,
    Broadcast = 6,
}

impl Op {
    /// The operation's name as error messages show it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::SumI64 => "all_reduce_sum_i64",
            Op::SumI128 => "all_reduce_sum_i128",
            Op::MaxF64 => "all_reduce_max_f64",
            Op::MaxI64 => "all_reduce_max_i64",
            Op::AllGather => "all_gather",
            Op::Broadcast => "broadcast",
        }
    }

    /// The name of the operation with wire code `code`, for messages about unexpected frames.
    pub(crate) fn name_of_code(code: u8) -> String {
        [
            Op::SumI64,
            Op::SumI128,
            Op::MaxF64,
            Op::MaxI64,
            Op::AllGather,
            Op::Broadcast,
        ]
        .into_iter()
        .find(|op| *op as u8 == code)
        .map(|op| op.name().to_string())
        .unwrap_or_else(|| format!("unknown operation code {code}"))
    }
}

/// The header of one frame: which operation, which call, and an operation-specific check value
/// (the element count of an all-reduce, the block index of an all-gather, the root of a
/// broadcast), so ranks that issue different calls fail with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Operation code ([`Op`] as `u8`).
    pub op: u8,
    /// The call number: how many collective calls this rank made before this one.
    pub seq: u64,
    /// The operation-specific check value.
    pub aux: u64,
    /// The payload length in bytes.
    pub len: u64,
}

/// The size of an encoded [`Header`] on the wire.
pub(crate) const HEADER_BYTES: usize = 25;

impl Header {
    /// The header as it goes on the wire.
    pub(crate) fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..8].copy_from_slice(&self.len.to_le_bytes());
        out[8] = self.op;
        out[9..17].copy_from_slice(&self.seq.to_le_bytes());
        out[17..25].copy_from_slice(&self.aux.to_le_bytes());
        out
    }

    /// The header read back from the wire.
    pub(crate) fn decode(bytes: &[u8; HEADER_BYTES]) -> Header {
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        Header {
            len: u64_at(0),
            op: bytes[8],
            seq: u64_at(9),
            aux: u64_at(17),
        }
    }
}

/// One message: header and payload.
#[derive(Debug)]
pub(crate) struct Frame {
    /// What the payload is.
    pub header: Header,
    /// The payload bytes (`header.len` of them).
    pub payload: Vec<u8>,
}

/// An element type an all-reduce can combine: fixed-size little-endian encoding and a combining
/// rule that is associative and commutative, so the result does not depend on the order in
/// which ranks' contributions meet.
pub(crate) trait Element: Copy + Send {
    /// Encoded size in bytes.
    const BYTES: usize;
    /// Appends the little-endian encoding to `out`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads a value from exactly [`Self::BYTES`] bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! le_element {
    ($t:ty, $n:expr) => {
        impl Element for $t {
            const BYTES: usize = $n;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0u8; $n];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    };
}

le_element!(i64, 8);
le_element!(i128, 16);
le_element!(f64, 8);

/// Encodes a slice of elements into a payload.
pub(crate) fn encode<T: Element>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * T::BYTES);
    for &v in values {
        v.put(&mut out);
    }
    out
}

/// Sum with wrapping: exact when the true sum fits the type, and in every case the same result
/// whatever the order of the terms (arithmetic modulo 2^bits is associative and commutative).
pub(crate) fn sum_i64(acc: &mut i64, x: i64) {
    *acc = acc.wrapping_add(x);
}

/// See [`sum_i64`].
pub(crate) fn sum_i128(acc: &mut i128, x: i128) {
    *acc = acc.wrapping_add(x);
}

/// Maximum of integers.
pub(crate) fn max_i64(acc: &mut i64, x: i64) {
    *acc = (*acc).max(x);
}

/// Maximum in IEEE 754 total order (`f64::total_cmp`): `-0.0 < +0.0`, and a positive NaN is
/// larger than every number (a negative NaN smaller), so the result is one definite bit pattern
/// whatever the order of the terms (`f64::max` may return either zero and drops NaN).
pub(crate) fn max_f64(acc: &mut f64, x: f64) {
    if x.total_cmp(acc) == Ordering::Greater {
        *acc = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = Header {
            op: Op::Broadcast as u8,
            seq: 0x0102_0304_0506_0708,
            aux: u64::MAX - 3,
            len: 1 << 40,
        };
        assert_eq!(Header::decode(&h.encode()), h);
        assert_eq!(h.encode()[8], 6);
    }

    #[test]
    fn elements_round_trip() {
        let values = [i128::MIN, -1, 0, 7, i128::MAX];
        let bytes = encode(&values);
        assert_eq!(bytes.len(), 5 * 16);
        let back: Vec<i128> = bytes.chunks_exact(16).map(i128::get).collect();
        assert_eq!(back, values);
        let f = [f64::NEG_INFINITY, -0.0, 1.5, f64::NAN];
        let back: Vec<f64> = encode(&f).chunks_exact(8).map(f64::get).collect();
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            f.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn max_f64_is_order_independent() {
        let terms = [0.0, -0.0, -3.0, f64::NEG_INFINITY];
        let mut a = terms[0];
        terms[1..].iter().for_each(|&x| max_f64(&mut a, x));
        let mut b = terms[3];
        terms[..3].iter().rev().for_each(|&x| max_f64(&mut b, x));
        assert_eq!(a.to_bits(), 0.0f64.to_bits());
        assert_eq!(b.to_bits(), 0.0f64.to_bits());
        let mut c = 1.0;
        max_f64(&mut c, f64::NAN);
        assert!(c.is_nan());
    }

    #[test]
    fn wrapping_sum_is_exact_when_the_total_fits() {
        // Partial sums overflow in this order, the total fits.
        let terms = [i64::MAX, 5, -10, i64::MIN + 20];
        let mut acc = 0i64;
        terms.iter().for_each(|&x| sum_i64(&mut acc, x));
        let exact: i128 = terms.iter().map(|&x| x as i128).sum();
        assert_eq!(acc as i128, exact);
        assert_eq!(Op::name_of_code(9), "unknown operation code 9");
        assert_eq!(Op::name_of_code(5), "all_gather");
    }
}
