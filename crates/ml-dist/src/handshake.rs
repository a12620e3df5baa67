//! The handshake that opens every TCP ring connection: the connecting rank says who it is
//! ([`Hello`]: job id, attempt, rank, world size) and the accepting rank answers accept or
//! refuse with a reason.
//!
//! Wire format (integers little-endian):
//! - hello: `MAGIC (8 bytes) | job id length: u32 | job id (UTF-8) | attempt: u64 | rank: u64 |
//!   world size: u64`;
//! - reply: `MAGIC | status: u8 (0 accept, 1 refuse) | reason length: u32 | reason (UTF-8)`.
//!
//! The last magic byte is the protocol version, so peers of another version are refused.

use std::io::{self, Read, Write};

/// Opens every hello and reply: "MLDIST", a zero byte and the protocol version.
pub(crate) const MAGIC: [u8; 8] = *b"MLDIST\x00\x01";

/// Longest job id accepted (bytes).
pub(crate) const MAX_JOB_ID_BYTES: usize = 1024;

/// Longest refusal reason sent (bytes).
const MAX_REASON_BYTES: usize = 4096;

/// Who a connecting rank says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hello {
    /// The job both ranks must belong to.
    pub job_id: String,
    /// The attempt of the job (a retried job gets a new attempt number).
    pub attempt: u64,
    /// The connecting rank.
    pub rank: u64,
    /// The world size the connecting rank was started with.
    pub world_size: u64,
}

/// Why a handshake message could not be read.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The connection failed or timed out.
    Io(io::Error),
    /// The bytes are not an ml-dist handshake of this version.
    Garbage(String),
}

impl From<io::Error> for ReadFailure {
    fn from(e: io::Error) -> Self {
        ReadFailure::Io(e)
    }
}

/// What the accepting rank makes of a hello.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The expected peer.
    Accept,
    /// A connection from another job or attempt: refuse it and keep waiting for the right peer.
    Stray(String),
    /// Same job and attempt but another world size or rank: the ranks were started with
    /// different address lists; waiting longer will not help.
    Fatal(String),
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_magic(r: &mut impl Read) -> Result<(), ReadFailure> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if magic[..7] != MAGIC[..7] {
        return Err(ReadFailure::Garbage(format!(
            "not an ml-dist handshake (first bytes {magic:02x?})"
        )));
    }
    if magic[7] != MAGIC[7] {
        return Err(ReadFailure::Garbage(format!(
            "ml-dist protocol version {} where {} is spoken",
            magic[7], MAGIC[7]
        )));
    }
    Ok(())
}

/// Reads `len` bytes of UTF-8 text of at most `max` bytes.
fn read_text(r: &mut impl Read, what: &str, max: usize) -> Result<String, ReadFailure> {
    let len = read_u32(r)? as usize;
    if len > max {
        return Err(ReadFailure::Garbage(format!(
            "{what} of {len} bytes (at most {max})"
        )));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| ReadFailure::Garbage(format!("{what} is not UTF-8")))
}

impl Hello {
    /// The hello as it goes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let job = self.job_id.as_bytes();
        let mut out = Vec::with_capacity(8 + 4 + job.len() + 24);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(job.len() as u32).to_le_bytes());
        out.extend_from_slice(job);
        out.extend_from_slice(&self.attempt.to_le_bytes());
        out.extend_from_slice(&self.rank.to_le_bytes());
        out.extend_from_slice(&self.world_size.to_le_bytes());
        out
    }

    /// Reads a hello, refusing anything that is not one.
    pub(crate) fn read(r: &mut impl Read) -> Result<Hello, ReadFailure> {
        read_magic(r)?;
        let job_id = read_text(r, "job id", MAX_JOB_ID_BYTES)?;
        Ok(Hello {
            job_id,
            attempt: read_u64(r)?,
            rank: read_u64(r)?,
            world_size: read_u64(r)?,
        })
    }

    /// Judges `got`, received by the rank that sent `self`'s job, attempt and world size and
    /// expects a connection from rank `expected_rank`.
    pub(crate) fn judge(&self, got: &Hello, expected_rank: u64) -> Verdict {
        if got.job_id != self.job_id {
            return Verdict::Stray(format!(
                "job id '{}' where '{}' was expected",
                got.job_id, self.job_id
            ));
        }
        if got.attempt != self.attempt {
            return Verdict::Stray(format!(
                "job '{}' attempt {} where attempt {} was expected",
                got.job_id, got.attempt, self.attempt
            ));
        }
        if got.world_size != self.world_size {
            return Verdict::Fatal(format!(
                "world size {} where {} was expected (the ranks were given address lists of \
                 different lengths)",
                got.world_size, self.world_size
            ));
        }
        if got.rank != expected_rank {
            return Verdict::Fatal(format!(
                "rank {} connected where rank {expected_rank} should (the ranks were given \
                 different address lists)",
                got.rank
            ));
        }
        Verdict::Accept
    }
}

/// Writes a reply: accept when `refusal` is `None`, else refuse with that reason.
pub(crate) fn write_reply(w: &mut impl Write, refusal: Option<&str>) -> io::Result<()> {
    let reason = refusal.unwrap_or("").as_bytes();
    let reason = &reason[..reason.len().min(MAX_REASON_BYTES)];
    let mut out = Vec::with_capacity(8 + 1 + 4 + reason.len());
    out.extend_from_slice(&MAGIC);
    out.push(u8::from(refusal.is_some()));
    out.extend_from_slice(&(reason.len() as u32).to_le_bytes());
    out.extend_from_slice(reason);
    w.write_all(&out)?;
    w.flush()
}

/// Reads a reply: `Ok(None)` when accepted, `Ok(Some(reason))` when refused.
pub(crate) fn read_reply(r: &mut impl Read) -> Result<Option<String>, ReadFailure> {
    read_magic(r)?;
    let mut status = [0u8; 1];
    r.read_exact(&mut status)?;
    // A refusal reason cut at MAX_REASON_BYTES may end inside a UTF-8 sequence.
    let len = read_u32(r)? as usize;
    if len > MAX_REASON_BYTES {
        return Err(ReadFailure::Garbage(format!(
            "refusal reason of {len} bytes (at most {MAX_REASON_BYTES})"
        )));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    let reason = String::from_utf8_lossy(&bytes).into_owned();
    match status[0] {
        0 => Ok(None),
        1 => Ok(Some(reason)),
        s => Err(ReadFailure::Garbage(format!("handshake reply status {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(job: &str, attempt: u64, rank: u64, world_size: u64) -> Hello {
        Hello {
            job_id: job.into(),
            attempt,
            rank,
            world_size,
        }
    }

    #[test]
    fn hello_round_trips() {
        let h = hello("job-é", 3, 2, 4);
        let bytes = h.encode();
        assert_eq!(Hello::read(&mut bytes.as_slice()).unwrap(), h);
    }

    #[test]
    fn garbage_is_refused() {
        let e = Hello::read(&mut &b"GET / HTTP/1.1\r\n\r\n"[..]).unwrap_err();
        assert!(matches!(e, ReadFailure::Garbage(ref m) if m.contains("not an ml-dist")));
        let mut v = hello("j", 0, 0, 2).encode();
        v[7] = 9;
        let e = Hello::read(&mut v.as_slice()).unwrap_err();
        assert!(matches!(e, ReadFailure::Garbage(ref m) if m.contains("version 9")));
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = Hello::read(&mut v.as_slice()).unwrap_err();
        assert!(matches!(e, ReadFailure::Garbage(ref m) if m.contains("job id of")));
        let e = Hello::read(&mut &MAGIC[..5]).unwrap_err();
        assert!(matches!(e, ReadFailure::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }

    #[test]
    fn verdicts() {
        let me = hello("j", 1, 2, 4);
        assert_eq!(me.judge(&hello("j", 1, 1, 4), 1), Verdict::Accept);
        assert!(
            matches!(me.judge(&hello("k", 1, 1, 4), 1), Verdict::Stray(m) if m.contains("job id 'k'"))
        );
        assert!(
            matches!(me.judge(&hello("j", 0, 1, 4), 1), Verdict::Stray(m) if m.contains("attempt 0"))
        );
        assert!(
            matches!(me.judge(&hello("j", 1, 1, 3), 1), Verdict::Fatal(m) if m.contains("world size 3"))
        );
        assert!(
            matches!(me.judge(&hello("j", 1, 0, 4), 1), Verdict::Fatal(m) if m.contains("rank 0"))
        );
    }

    #[test]
    fn replies_round_trip() {
        let mut buf = Vec::new();
        write_reply(&mut buf, None).unwrap();
        assert_eq!(read_reply(&mut buf.as_slice()).unwrap(), None);
        let mut buf = Vec::new();
        write_reply(&mut buf, Some("wrong job")).unwrap();
        assert_eq!(
            read_reply(&mut buf.as_slice()).unwrap().as_deref(),
            Some("wrong job")
        );
    }
}
