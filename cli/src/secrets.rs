//! Secret values from the command line, the environment and files.
//!
//! Two phases keep usage errors ahead of everything else: [`gather`] reads
//! every source and fails on the first usage error (unreadable file,
//! over-long value) before anything is registered or warned about; then
//! [`Gathered::register`] adds the values in command-line order and prints
//! the warnings (unset variable, value too short or blank).
//!
//! Invariant: an [`Origin`] names where a value came from and is the only
//! thing printed about it; the value itself is never formatted.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use logmask::{MAX_VALUE_LEN, Refusal, Registry};

use super::args::UsageError;
use super::messages;

/// One secret option, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--secret VALUE`, the `number`-th one (from 1).
    Secret { number: usize, value: OsString },
    /// `--env NAME`.
    Env(OsString),
    /// `--env-prefix P`.
    EnvPrefix(OsString),
    /// `--file PATH`: one value per non-blank line.
    File(PathBuf),
    /// `--secret-file PATH`: the whole file is one value.
    SecretFile(PathBuf),
}

/// Where one value came from, as printed in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Secret(usize),
    /// `--env NAME`, the `number`-th `--env` (from 1).
    Env {
        number: usize,
        name: OsString,
    },
    /// A variable matched by the `number`-th `--env-prefix PREFIX`.
    EnvPrefix {
        number: usize,
        prefix: OsString,
        name: OsString,
    },
    FileLine {
        path: PathBuf,
        line: usize,
    },
    SecretFile(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Secret(n) => write!(f, "--secret #{n}"),
            Origin::Env { number, name } => f.write_str(&named("--env", *number, name)),
            Origin::EnvPrefix {
                number,
                prefix,
                name,
            } => write!(
                f,
                "{} ({})",
                named("--env-prefix", *number, prefix),
                name.to_string_lossy()
            ),
            Origin::FileLine { path, line } => write!(f, "--file {}:{line}", path.display()),
            Origin::SecretFile(path) => write!(f, "--secret-file {}", path.display()),
        }
    }
}

/// What gathering found, in command-line order.
#[derive(Debug, Default)]
pub struct Gathered {
    items: Vec<Item>,
}

#[derive(Debug)]
enum Item {
    Value(Origin, Vec<u8>),
    /// Nothing to register; say why.
    Warning(String, String),
}

/// Reads every source. Fails on the first usage error, before anything is
/// registered or printed.
pub fn gather(sources: &[Source]) -> Result<Gathered, UsageError> {
    let mut gathered = Gathered::default();
    for (i, source) in sources.iter().enumerate() {
        // Which option of its kind this is (`--env #2`), for messages.
        let kind = std::mem::discriminant(source);
        let number = sources[..=i]
            .iter()
            .filter(|s| std::mem::discriminant(*s) == kind)
            .count();
        gather_one(source, number, &mut gathered.items)?;
    }
    Ok(gathered)
}

impl Gathered {
    /// Registers every value and prints every warning, in order.
    pub fn register(self, registry: &Registry) {
        self.register_and_keep(registry);
    }

    /// Like [`register`](Self::register), and returns the values the
    /// registry accepted with their source labels (an agent holds them).
    pub fn register_and_keep(self, registry: &Registry) -> Vec<(Vec<u8>, String)> {
        let labels: Vec<String> = self
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Value(origin, _) => Some(origin.to_string()),
                Item::Warning(..) => None,
            })
            .collect();
        let values: Vec<(&[u8], &str)> = self
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Value(_, value) => Some(&value[..]),
                Item::Warning(..) => None,
            })
            .zip(labels.iter().map(String::as_str))
            .collect();
        let mut results = registry.add_all_from(&values).into_iter();
        drop(values);
        let mut labels = labels.into_iter();
        let mut accepted = Vec::new();
        for item in self.items {
            match item {
                Item::Value(origin, value) => {
                    let label = labels.next().unwrap_or_default();
                    match results.next() {
                        Some(Err(refusal)) => messages::warning(&origin, &refusal),
                        Some(Ok(_)) => accepted.push((value, label)),
                        None => {}
                    }
                }
                Item::Warning(source, reason) => messages::warning(&source, &reason),
            }
        }
        accepted
    }
}

/// `number` counts the options of the same kind so far, this one included.
fn gather_one(source: &Source, number: usize, items: &mut Vec<Item>) -> Result<(), UsageError> {
    match source {
        Source::Secret { number, value } => {
            let origin = Origin::Secret(*number);
            check_length(&origin, value.as_bytes())?;
            items.push(Item::Value(origin, value.as_bytes().to_vec()));
        }
        Source::Env(name) => {
            check_env_name("--env", name)?;
            let origin = Origin::Env {
                number,
                name: name.clone(),
            };
            match std::env::var_os(name) {
                Some(value) => {
                    check_length(&origin, value.as_bytes())?;
                    items.push(Item::Value(origin, value.into_vec()));
                }
                None => items.push(Item::Warning(
                    origin.to_string(),
                    "variable is not set, nothing masked".into(),
                )),
            }
        }
        Source::EnvPrefix(prefix) => gather_prefix(number, prefix, items)?,
        Source::File(path) => {
            let content = read(path, "--file")?;
            for (index, line) in content.split(|&b| b == b'\n').enumerate() {
                if trim(line).is_empty() {
                    continue;
                }
                let origin = Origin::FileLine {
                    path: path.clone(),
                    line: index + 1,
                };
                check_length(&origin, line)?;
                items.push(Item::Value(origin, line.to_vec()));
            }
        }
        Source::SecretFile(path) => {
            let content = read(path, "--secret-file")?;
            let origin = Origin::SecretFile(path.clone());
            check_length(&origin, &content)?;
            items.push(Item::Value(origin, content));
        }
    }
    Ok(())
}

/// Every variable whose name starts with the prefix, sorted by name so the
/// warnings come out in a stable order. An over-long value is skipped with
/// a warning, not an error: the user did not name it (SPEC 1.6).
fn gather_prefix(
    number: usize,
    prefix: &OsString,
    items: &mut Vec<Item>,
) -> Result<(), UsageError> {
    if prefix.is_empty() {
        return Err(UsageError(
            "--env-prefix: the prefix must not be empty".into(),
        ));
    }
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| name.as_bytes().starts_with(prefix.as_bytes()))
        .collect();
    vars.sort();
    if vars.is_empty() {
        items.push(Item::Warning(
            named("--env-prefix", number, prefix),
            "no environment variable matches, nothing masked".into(),
        ));
    }
    for (name, value) in vars {
        let origin = Origin::EnvPrefix {
            number,
            prefix: prefix.clone(),
            name,
        };
        if trim(value.as_bytes()).len() > MAX_VALUE_LEN {
            items.push(Item::Warning(origin.to_string(), too_long_reason()));
        } else {
            items.push(Item::Value(origin, value.into_vec()));
        }
    }
    Ok(())
}

/// A trimmed value longer than the limit is a usage error naming its
/// source (SPEC 1.6). Checked here because the registry would only refuse
/// it, which is a warning.
fn check_length(origin: &Origin, value: &[u8]) -> Result<(), UsageError> {
    if trim(value).len() > MAX_VALUE_LEN {
        return Err(UsageError(format!("{origin}: {}", too_long_reason())));
    }
    Ok(())
}

/// The registry's own wording, so both ways of refusing read the same.
fn too_long_reason() -> String {
    Refusal::TooLong.to_string()
}

/// `OPTION NAME` when NAME may be printed, else `OPTION #NUMBER`: a value
/// typed where a name belongs (`--env "$TOKEN"`) must not be (SPEC 5).
fn named(option: &str, number: usize, name: &OsString) -> String {
    if is_conventional_name(name.as_bytes()) {
        format!("{option} {}", name.to_string_lossy())
    } else {
        format!("{option} #{number}")
    }
}

/// A name that messages may print: `[A-Z_][A-Z0-9_]*`, at most 64 bytes
/// (SPEC 5). Anything else may be a value typed where a name belongs.
pub fn is_conventional_name(name: &[u8]) -> bool {
    name.len() <= 64
        && name
            .first()
            .is_some_and(|&b| b.is_ascii_uppercase() || b == b'_')
        && name
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Variable names are not secrets, but a malformed one cannot be looked up.
fn check_env_name(option: &str, name: &OsString) -> Result<(), UsageError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.contains(&b'=') || bytes.contains(&0) {
        return Err(UsageError(format!(
            "{option}: a variable name must be non-empty and hold no '=' or NUL"
        )));
    }
    Ok(())
}

/// A file's content, without the UTF-8 byte order mark an editor may have
/// put first (SPEC 1.1: it is not part of the first secret).
fn read(path: &Path, option: &str) -> Result<Vec<u8>, UsageError> {
    let mut content = std::fs::read(path)
        .map_err(|err| UsageError(format!("{option} {}: cannot read: {err}", path.display())))?;
    if content.starts_with(logmask::BOM) {
        content.drain(..logmask::BOM.len());
    }
    Ok(content)
}

/// Trims whitespace and line breaks at both ends, as the registry does for
/// the whole value.
fn trim(value: &[u8]) -> &[u8] {
    let keep = |b: &u8| !matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(keep).unwrap_or(value.len());
    let end = value.iter().rposition(keep).map_or(start, |i| i + 1);
    &value[start..end]
}
