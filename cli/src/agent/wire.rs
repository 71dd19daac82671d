//! The agent's wire format: a fixed handshake, then length-prefixed frames.
//!
//! ```text
//! handshake (both ways, first):  "logmask-agent\0"  u16 version (BE)
//! frame:                         u32 length (BE)  u8 kind  payload[length - 1]
//! ```
//!
//! The handshake has the same form in every version, so a client and an
//! agent of different versions always recognise each other and fail with
//! a clear message instead of misreading frames. Frames carry at most
//! [`MAX_FRAME`] bytes, so a garbage length cannot make either side
//! allocate much.
//!
//! | kind | direction | payload |
//! |------|-----------|---------|
//! | `Subscribe` | client to agent | none: send me every value, then `Synced`, then new ones |
//! | `Add` | client to agent | u16 label length, label, value: hold this value |
//! | `Stop` | client to agent | none: stop the agent |
//! | `Value` | agent to client | u16 label length, label, value |
//! | `Synced` | agent to client | none: every value held at subscription was sent |
//! | `Ack` | agent to client | u8 0 = held, 1 = refused; then the reason (UTF-8) |
//! | `Error` | agent to client | the reason (UTF-8); the agent closes the connection |
//!
//! Every `Add` gets exactly one `Ack`, in order.
//!
//! Invariant: a value is never formatted: [`Frame`]'s `Debug` shows kinds
//! and lengths, and reasons are written by the agent from names and limits.

use std::fmt;
use std::io::{self, Read, Write};

/// Bumped on any change to the frames below.
pub const VERSION: u16 = 1;

const MAGIC: &[u8; 14] = b"logmask-agent\0";

/// Length of the handshake in bytes.
pub const HANDSHAKE_LEN: usize = MAGIC.len() + 2;

/// Longest label carried, in bytes: `agent:` and a source of at most 256
/// bytes fit (the agent sanitises and cuts sources, see `super::label`).
pub const MAX_LABEL: usize = 512;

/// Longest frame accepted: a 64 KiB value, a label and a little slack
/// (values past 64 KiB are refused by the agent, not by the frame size,
/// so a too-long value gets a reason instead of a broken connection).
pub const MAX_FRAME: usize = 64 * 1024 + 4 * 1024;

const SUBSCRIBE: u8 = 1;
const ADD: u8 = 2;
const STOP: u8 = 3;
const VALUE: u8 = 0x81;
const SYNCED: u8 = 0x82;
const ACK: u8 = 0x83;
const ERROR: u8 = 0x84;

/// One frame, either way.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame {
    Subscribe,
    Add {
        label: Vec<u8>,
        value: Vec<u8>,
    },
    Stop,
    Value {
        label: Vec<u8>,
        value: Vec<u8>,
    },
    Synced,
    /// `Ok(())` when the value is held, else the reason.
    Ack(Result<(), String>),
    Error(String),
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Subscribe => f.write_str("Subscribe"),
            Frame::Add { label, value } => {
                write!(
                    f,
                    "Add({} label bytes, {} value bytes)",
                    label.len(),
                    value.len()
                )
            }
            Frame::Stop => f.write_str("Stop"),
            Frame::Value { label, value } => write!(
                f,
                "Value({} label bytes, {} value bytes)",
                label.len(),
                value.len()
            ),
            Frame::Synced => f.write_str("Synced"),
            Frame::Ack(result) => write!(f, "Ack({result:?})"),
            Frame::Error(reason) => write!(f, "Error({reason:?})"),
        }
    }
}

/// The bytes each side sends first.
pub fn handshake() -> [u8; HANDSHAKE_LEN] {
    let mut out = [0u8; HANDSHAKE_LEN];
    out[..MAGIC.len()].copy_from_slice(MAGIC);
    out[MAGIC.len()..].copy_from_slice(&VERSION.to_be_bytes());
    out
}

/// Reads the other side's handshake: its version, or `InvalidData` when
/// the bytes are not a logmask agent handshake at all.
pub fn read_handshake(r: &mut impl Read) -> io::Result<u16> {
    let mut buf = [0u8; HANDSHAKE_LEN];
    r.read_exact(&mut buf)?;
    if &buf[..MAGIC.len()] != MAGIC {
        return Err(invalid("not a logmask agent handshake"));
    }
    Ok(u16::from_be_bytes([buf[MAGIC.len()], buf[MAGIC.len() + 1]]))
}

/// Writes one frame in a single `write_all`, so frames written by two
/// threads under one lock never interleave.
pub fn write_frame(w: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let mut body = Vec::new();
    match frame {
        Frame::Subscribe => body.push(SUBSCRIBE),
        Frame::Stop => body.push(STOP),
        Frame::Synced => body.push(SYNCED),
        Frame::Add { label, value } => labelled(&mut body, ADD, label, value),
        Frame::Value { label, value } => labelled(&mut body, VALUE, label, value),
        Frame::Ack(result) => {
            body.push(ACK);
            match result {
                Ok(()) => body.push(0),
                Err(reason) => {
                    body.push(1);
                    body.extend_from_slice(reason.as_bytes());
                }
            }
        }
        Frame::Error(reason) => {
            body.push(ERROR);
            body.extend_from_slice(reason.as_bytes());
        }
    }
    if body.len() > MAX_FRAME {
        return Err(invalid("frame too long"));
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    let written = w.write_all(&out);
    zero(&mut out);
    zero(&mut body);
    written
}

fn labelled(body: &mut Vec<u8>, kind: u8, label: &[u8], value: &[u8]) {
    let label = &label[..label.len().min(MAX_LABEL)];
    body.reserve(3 + label.len() + value.len());
    body.push(kind);
    body.extend_from_slice(&(label.len() as u16).to_be_bytes());
    body.extend_from_slice(label);
    body.extend_from_slice(value);
}

/// Overwrites a buffer that held a value before it is freed.
fn zero(buf: &mut [u8]) {
    buf.iter_mut().for_each(|b| *b = 0);
}

/// Reads one frame: `Ok(None)` at a clean end of stream (between frames),
/// `InvalidData` for a frame that is malformed (unknown kind, bad length,
/// bad label), any other error as it came.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    match r.read(&mut len[..1]) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(err) => return Err(err),
    }
    r.read_exact(&mut len[1..])?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(invalid("frame length out of range"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let frame = decode(&body);
    zero(&mut body);
    frame.map(Some)
}

fn decode(body: &[u8]) -> io::Result<Frame> {
    let (kind, rest) = (body[0], &body[1..]);
    let empty = |frame: Frame| {
        if rest.is_empty() {
            Ok(frame)
        } else {
            Err(invalid("unexpected payload"))
        }
    };
    match kind {
        SUBSCRIBE => empty(Frame::Subscribe),
        STOP => empty(Frame::Stop),
        SYNCED => empty(Frame::Synced),
        ADD | VALUE => {
            if rest.len() < 2 {
                return Err(invalid("truncated label"));
            }
            let label_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            if label_len > MAX_LABEL || rest.len() < 2 + label_len {
                return Err(invalid("bad label length"));
            }
            let label = rest[2..2 + label_len].to_vec();
            let value = rest[2 + label_len..].to_vec();
            Ok(if kind == ADD {
                Frame::Add { label, value }
            } else {
                Frame::Value { label, value }
            })
        }
        ACK => match rest.split_first() {
            Some((0, [])) => Ok(Frame::Ack(Ok(()))),
            Some((1, reason)) => Ok(Frame::Ack(Err(text(reason)))),
            _ => Err(invalid("bad acknowledgement")),
        },
        ERROR => Ok(Frame::Error(text(rest))),
        _ => Err(invalid("unknown frame kind")),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: &Frame) -> Frame {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, frame).unwrap();
        let mut reader = &bytes[..];
        let back = read_frame(&mut reader).unwrap().unwrap();
        assert!(reader.is_empty(), "{frame:?} left bytes");
        back
    }

    #[test]
    fn every_frame_survives_a_round_trip() {
        let cases = [
            Frame::Subscribe,
            Frame::Stop,
            Frame::Synced,
            Frame::Add {
                label: b"stdout:3".to_vec(),
                value: b"hunter22".to_vec(),
            },
            Frame::Add {
                label: Vec::new(),
                value: vec![0, 1, 0xff, b'\n'],
            },
            Frame::Value {
                label: b"agent:--secret #1".to_vec(),
                value: vec![b'x'; 64 * 1024],
            },
            Frame::Ack(Ok(())),
            Frame::Ack(Err("too many".into())),
            Frame::Error("bad".into()),
        ];
        for frame in cases {
            assert_eq!(round_trip(&frame), frame);
        }
    }

    /// Hands out its bytes in pieces of the given sizes, in turn.
    struct Pieces<'a> {
        data: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'a, usize>>,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (*self.sizes.next().unwrap())
                .min(buf.len())
                .min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn frames_read_the_same_however_the_bytes_arrive() {
        let frames = [
            Frame::Subscribe,
            Frame::Add {
                label: b"stdout:3".to_vec(),
                value: b"hunter22".to_vec(),
            },
            Frame::Ack(Err("why".into())),
            Frame::Value {
                label: b"agent:x".to_vec(),
                value: vec![7; 3000],
            },
            Frame::Synced,
        ];
        let mut bytes = handshake().to_vec();
        for frame in &frames {
            write_frame(&mut bytes, frame).unwrap();
        }
        let splits: [&[usize]; 4] = [&[1], &[2, 3, 5, 7], &[4096], &[13, 1, 1, 600]];
        for sizes in splits {
            let mut reader = Pieces {
                data: &bytes,
                sizes: sizes.iter().cycle(),
            };
            assert_eq!(read_handshake(&mut reader).unwrap(), VERSION, "{sizes:?}");
            for frame in &frames {
                assert_eq!(
                    read_frame(&mut reader).unwrap().as_ref(),
                    Some(frame),
                    "{sizes:?}"
                );
            }
            assert!(read_frame(&mut reader).unwrap().is_none(), "{sizes:?}");
        }
    }

    #[test]
    fn malformed_frames_are_invalid_data() {
        let cases: [(&str, Vec<u8>); 7] = [
            ("zero length", vec![0, 0, 0, 0]),
            ("too long", (MAX_FRAME as u32 + 1).to_be_bytes().to_vec()),
            ("unknown kind", vec![0, 0, 0, 1, 0x42]),
            ("payload on stop", vec![0, 0, 0, 2, STOP, 1]),
            ("truncated label length", vec![0, 0, 0, 2, ADD, 0]),
            ("label past the end", vec![0, 0, 0, 4, ADD, 0, 9, b'a']),
            ("bad ack", vec![0, 0, 0, 2, ACK, 7]),
        ];
        for (name, bytes) in cases {
            let err = read_frame(&mut &bytes[..]).expect_err(name);
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}");
        }
    }

    #[test]
    fn end_of_stream_between_frames_is_clean_and_inside_one_is_not() {
        assert!(read_frame(&mut &[][..]).unwrap().is_none());
        let err = read_frame(&mut &[0, 0, 0, 5, ADD][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn handshake_names_the_version_and_rejects_other_bytes() {
        assert_eq!(read_handshake(&mut &handshake()[..]).unwrap(), VERSION);
        let mut other = handshake();
        other[HANDSHAKE_LEN - 1] = 99;
        assert_eq!(read_handshake(&mut &other[..]).unwrap(), 99);
        let err = read_handshake(&mut &b"GET / HTTP/1.1\r\n\r\n"[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn labels_are_cut_to_the_limit() {
        let frame = Frame::Add {
            label: vec![b'a'; 1000],
            value: b"v".to_vec(),
        };
        match round_trip(&frame) {
            Frame::Add { label, .. } => assert_eq!(label.len(), MAX_LABEL),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_a_value() {
        let frame = Frame::Add {
            label: b"l".to_vec(),
            value: b"hunter22".to_vec(),
        };
        assert!(!format!("{frame:?}").contains("hunter22"));
    }
}
