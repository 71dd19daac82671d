//! Which files `logmask scan` reads, in which order (SPEC 8).
//!
//! - A PATH named on the command line is followed if it is a link; a
//!   directory is walked recursively in byte order of names, hidden
//!   entries included; inside it only regular files are taken and links
//!   are never followed (so a link loop inside a tree is harmless).
//! - `-` is stdin.
//! - Names are printed as given, directory entries joined with `/` (no
//!   doubled `/` after a given `dir/`): `raw` holds the name's bytes, as
//!   the file system gave them, for the text output and errors; `display`
//!   the same name with bytes that are not UTF-8 replaced, for what must
//!   be text (JSON, source labels).
//!
//! Invariant: the list is in output order; an entry that cannot be read
//! keeps its place, so its error is printed where its findings would be.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One thing to scan, or why it cannot be.
#[derive(Debug)]
pub enum Item {
    Stdin,
    File {
        display: String,
        raw: Vec<u8>,
        path: PathBuf,
    },
    Error {
        raw: Vec<u8>,
        message: String,
    },
}

/// Expands the PATHs into the files to scan, in output order.
pub fn expand(paths: &[OsString]) -> Vec<Item> {
    let mut items = Vec::new();
    for path in paths {
        if path.as_bytes() == b"-" {
            items.push(Item::Stdin);
            continue;
        }
        let display = path.to_string_lossy().into_owned();
        let raw = path.as_bytes().to_vec();
        let path = PathBuf::from(path);
        match fs::metadata(&path) {
            Err(err) => items.push(Item::Error {
                raw,
                message: format!("cannot read: {err}"),
            }),
            Ok(meta) if meta.is_dir() => walk_dir(&path, &display, &raw, &mut items),
            Ok(_) => items.push(Item::File { display, raw, path }),
        }
    }
    items
}

fn walk_dir(dir: &Path, display: &str, raw: &[u8], items: &mut Vec<Item>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            items.push(Item::Error {
                raw: raw.to_vec(),
                message: format!("cannot read directory: {err}"),
            });
            return;
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry.and_then(|e| Ok((e.file_name(), e.file_type()?))) {
            Ok(child) => children.push(child),
            Err(err) => {
                items.push(Item::Error {
                    raw: raw.to_vec(),
                    message: format!("cannot read directory: {err}"),
                });
                return;
            }
        }
    }
    children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (name, kind) in children {
        let child_display = if display.ends_with('/') {
            format!("{display}{}", name.to_string_lossy())
        } else {
            format!("{display}/{}", name.to_string_lossy())
        };
        let mut child_raw = raw.to_vec();
        if !raw.ends_with(b"/") {
            child_raw.push(b'/');
        }
        child_raw.extend_from_slice(name.as_bytes());
        let child = dir.join(&name);
        // `file_type` does not follow links: a link is neither.
        if kind.is_dir() {
            walk_dir(&child, &child_display, &child_raw, items);
        } else if kind.is_file() {
            items.push(Item::File {
                display: child_display,
                raw: child_raw,
                path: child,
            });
        }
    }
}
