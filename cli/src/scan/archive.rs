//! Opening a scanned file as one or more streams: plain, gzip (read
//! decompressed, every member) or zip (entry by entry in archive order,
//! named `ARCHIVE!ENTRY`), each known by its magic bytes, never its name
//! (SPEC 8). Archives inside archives are not opened: an entry is read as
//! it is. A zip read from a pipe (stdin) is first copied to an unnamed
//! temporary file, since its directory is at its end.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::in_place::unnamed_temp_file;

/// What a file turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Gzip,
    Zip,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const EMPTY_ZIP_MAGIC: &[u8] = b"PK\x05\x06";

/// The kind a file's first bytes announce.
pub fn sniff(prefix: &[u8]) -> Kind {
    if prefix.starts_with(GZIP_MAGIC) {
        Kind::Gzip
    } else if prefix.starts_with(ZIP_MAGIC) || prefix.starts_with(EMPTY_ZIP_MAGIC) {
        Kind::Zip
    } else {
        Kind::Plain
    }
}

/// Counts the bytes read from the disk or pipe, for progress.
pub struct Counting<'a, R> {
    pub inner: R,
    pub counter: &'a AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Why a file could not be read to its end.
pub type ReadError = String;

/// Calls `visit(name, raw_entry, stream)` for each stream of `file`
/// (`display` is its printed name; entries get `display!ENTRY`, and
/// `raw_entry` is then `!ENTRY` with the entry's name bytes as the archive
/// holds them, empty otherwise). `seekable`: a regular file, read again
/// from its start for a zip.
pub fn for_each_stream(
    file: File,
    seekable: bool,
    display: &str,
    counter: &AtomicU64,
    visit: &mut dyn FnMut(&str, &[u8], &mut dyn Read) -> Result<(), ReadError>,
) -> Result<Kind, ReadError> {
    let mut source = Counting {
        inner: file,
        counter,
    };
    let mut prefix = Vec::with_capacity(4);
    (&mut source)
        .take(4)
        .read_to_end(&mut prefix)
        .map_err(|err| format!("cannot read: {err}"))?;
    let kind = sniff(&prefix);
    match kind {
        Kind::Plain => {
            let mut stream = io::Cursor::new(prefix).chain(source);
            visit(display, b"", &mut stream)?;
        }
        Kind::Gzip => {
            let joined = io::Cursor::new(prefix).chain(source);
            let mut stream = MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, joined));
            visit(display, b"", &mut ErrorNamed(&mut stream, "gzip"))?;
        }
        Kind::Zip => {
            let file = if seekable {
                let mut file = source.inner;
                file.seek(SeekFrom::Start(0))
                    .map_err(|err| format!("cannot read: {err}"))?;
                file
            } else {
                spool(prefix, source).map_err(|err| format!("cannot read: {err}"))?
            };
            read_zip(file, display, visit)?;
        }
    }
    Ok(kind)
}

/// Names the format in a decoding error, so a corrupt archive says so.
struct ErrorNamed<'a>(&'a mut dyn Read, &'static str);

impl Read for ErrorNamed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|err| {
            if matches!(
                err.kind(),
                io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof
            ) {
                io::Error::new(err.kind(), format!("corrupt {} data: {err}", self.1))
            } else {
                err
            }
        })
    }
}

fn spool(prefix: Vec<u8>, mut rest: impl Read) -> io::Result<File> {
    let mut file = unnamed_temp_file(&std::env::temp_dir())?;
    io::copy(&mut io::Cursor::new(prefix).chain(&mut rest), &mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

fn read_zip(
    file: File,
    display: &str,
    visit: &mut dyn FnMut(&str, &[u8], &mut dyn Read) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let corrupt = |err: zip::result::ZipError| format!("cannot read: corrupt zip archive: {err}");
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(corrupt)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        if entry.is_dir() {
            continue;
        }
        // The text is the library's reading (CP437 for a name not marked
        // UTF-8 that is not UTF-8); the bytes are printed as given.
        let name = format!("{display}!{}", entry.name().map_err(corrupt)?);
        let raw = [&b"!"[..], entry.name_raw()].concat();
        visit(&name, &raw, &mut ErrorNamed(&mut entry, "zip"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_known_by_magic_bytes() {
        let cases: &[(&[u8], Kind)] = &[
            (b"\x1f\x8b\x08\x00", Kind::Gzip),
            (b"PK\x03\x04", Kind::Zip),
            (b"PK\x05\x06", Kind::Zip),
            (b"PK", Kind::Plain),
            (b"\x1f", Kind::Plain),
            (b"plain text", Kind::Plain),
            (b"", Kind::Plain),
        ];
        for (prefix, kind) in cases {
            assert_eq!(sniff(prefix), *kind, "{prefix:?}");
        }
    }
}
