//! Secret values from the command line, the environment and files.
//!
//! Two phases keep usage errors ahead of everything else: [`gather`] reads
//! every source and fails on the first usage error (unreadable file,
//! over-long value) before anything is registered or warned about; then
//! [`Gathered::register`] adds the values in command-line order and prints
//! the warnings (unset variable, value too short or blank).
//!
//! Variables found by name pattern (`--env-match GLOB`, and the default
//! GLOBs that filter, exec and agent mode add, see
//! [`super::args::default_env_sources`]) come after every other source:
//! a variable that `--env` names or an `--env-prefix` matches is not taken
//! again, and one that several GLOBs match is taken once, by the first
//! given GLOB, else the first default one. Because names like `*_TOKEN`
//! also catch flags (`USE_TOKEN=true`), a value matched only by a GLOB is
//! skipped when its trimmed whole value is shorter than max(minimum, 8)
//! bytes: silently for a default GLOB, with a warning for a given one.
//!
//! Invariants:
//! - An [`Origin`] names where a value came from and is the only thing
//!   printed about it; the value itself is never formatted.
//! - A variable name typed after `--env` is printed only when it is a
//!   conventional name (`[A-Z_][A-Z0-9_]*`, at most 64 bytes): a value
//!   pasted there by mistake must not be echoed. Names read from the
//!   environment (`--env-prefix`, `--env-match`) are printed when they are
//!   `[A-Za-z_][A-Za-z0-9_]*` of at most 64 bytes, else by position.

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
    /// `--env-match GLOB`, or a default GLOB (`given: false`).
    EnvMatch { glob: OsString, given: bool },
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
        name: EnvName,
    },
    /// A variable matched by a GLOB: the `number`-th `--env-match`, or a
    /// default one (`number` 0).
    EnvMatch {
        number: usize,
        glob: OsString,
        name: EnvName,
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
            } => write!(f, "{} ({name})", named("--env-prefix", *number, prefix)),
            Origin::EnvMatch { number, glob, name } => {
                write!(f, "{} ({name})", glob_label(*number, glob))
            }
            Origin::FileLine { path, line } => write!(f, "--file {}:{line}", path.display()),
            Origin::SecretFile(path) => write!(f, "--secret-file {}", path.display()),
        }
    }
}

/// A variable name read from the environment, as messages print it: the
/// name where it is a plain identifier, else its position among the
/// environment's variables sorted by name (`#N`, from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvName {
    name: OsString,
    position: usize,
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.name.as_bytes();
        let plain = !bytes.is_empty()
            && bytes.len() <= MAX_SHOWN_NAME
            && !bytes[0].is_ascii_digit()
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_');
        if plain {
            f.write_str(&self.name.to_string_lossy())
        } else {
            write!(f, "#{}", self.position)
        }
    }
}

/// Longest variable name a message prints (SPEC 5).
const MAX_SHOWN_NAME: usize = 64;

/// `--env-match GLOB` where GLOB is plain (letters, digits, `_` and `*`,
/// at most 64 bytes, as every default one is), else `--env-match #N`:
/// like a name, a pattern typed on the command line may be a value typed
/// in the wrong place.
fn glob_label(number: usize, glob: &OsString) -> String {
    let bytes = glob.as_bytes();
    let plain = bytes.len() <= MAX_SHOWN_NAME
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*');
    if plain {
        format!("--env-match {}", glob.to_string_lossy())
    } else {
        format!("--env-match #{number}")
    }
}

/// Whether `name` matches `glob` as a whole: `*` is any run of bytes,
/// empty included; every other byte matches itself, ASCII case ignored.
pub fn glob_matches(glob: &[u8], name: &[u8]) -> bool {
    // Greedy with one backtrack point (the last `*`): linear in practice,
    // O(glob x name) at worst, never exponential.
    let (mut g, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if g < glob.len() && glob[g] == b'*' {
            star = Some((g, n));
            g += 1;
        } else if g < glob.len() && glob[g].eq_ignore_ascii_case(&name[n]) {
            g += 1;
            n += 1;
        } else if let Some((star_g, star_n)) = star {
            // Let the last `*` take one more byte, and retry after it.
            star = Some((star_g, star_n + 1));
            g = star_g + 1;
            n = star_n + 1;
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

/// What gathering found, in command-line order.
#[derive(Debug, Default)]
pub struct Gathered {
    items: Vec<Item>,
}

#[derive(Debug)]
enum Item {
    Value(Origin, Vec<u8>),
    /// A value only a GLOB matched: skipped when shorter than
    /// max(minimum, 8) bytes, with a warning when the GLOB was given.
    Matched {
        origin: Origin,
        value: Vec<u8>,
        given: bool,
    },
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
    gather_globs(sources, &mut gathered.items)?;
    Ok(gathered)
}

/// Before a usage error from [`gather`] is printed: registers in
/// `registry`, the one messages are masked with, every value the sources
/// hold that can be read, so that the error cannot show one. The run stops
/// there and registers nothing else, but the error names a PATH, which
/// may hold a value (`-s hunter22 -f /missing/hunter22`): no message ever
/// holds a value (SPEC intro, 5).
pub fn register_readable(sources: &[Source], registry: &Registry) {
    let mut items = Vec::new();
    for source in sources {
        let _ = gather_one(source, 0, &mut items);
    }
    let _ = gather_globs(sources, &mut items);
    for item in items {
        if let Item::Value(_, value) | Item::Matched { value, .. } = item {
            let _ = registry.add(&value);
        }
    }
}

/// The shortest trimmed value a GLOB alone takes, whatever the minimum.
pub const MIN_GLOB_VALUE_LEN: usize = 8;

impl Gathered {
    /// Registers every value and prints every warning, in order.
    pub fn register(self, registry: &Registry) {
        self.register_and_keep(registry);
    }

    /// Like [`register`](Self::register), and returns the values the
    /// registry accepted with their source labels (an agent holds them).
    pub fn register_and_keep(self, registry: &Registry) -> Vec<(Vec<u8>, String)> {
        let floor = registry.config().min_length.max(MIN_GLOB_VALUE_LEN);
        let mut items = Vec::with_capacity(self.items.len());
        for item in self.items {
            match item {
                Item::Matched {
                    origin,
                    value,
                    given,
                } if trim(&value).len() < floor => {
                    if given {
                        items.push(Item::Warning(
                            origin.to_string(),
                            format!(
                                "value is shorter than {floor} bytes, taken for a flag \
                                 and not masked (use --env to mask it)"
                            ),
                        ));
                    }
                }
                Item::Matched { origin, value, .. } => items.push(Item::Value(origin, value)),
                other => items.push(other),
            }
        }
        let labels: Vec<String> = items
            .iter()
            .filter_map(|item| match item {
                Item::Value(origin, _) => Some(origin.to_string()),
                _ => None,
            })
            .collect();
        let values: Vec<(&[u8], &str)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Value(_, value) => Some(&value[..]),
                _ => None,
            })
            .zip(labels.iter().map(String::as_str))
            .collect();
        let mut results = registry.add_all_from(&values).into_iter();
        drop(values);
        let mut labels = labels.into_iter();
        let mut accepted = Vec::new();
        for item in items {
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
                Item::Matched { .. } => unreachable!("resolved above"),
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
        // All GLOBs are resolved together, after every other source.
        Source::EnvMatch { .. } => {}
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
    let vars: Vec<(EnvName, OsString)> = environment()
        .into_iter()
        .filter(|(name, _)| name.name.as_bytes().starts_with(prefix.as_bytes()))
        .collect();
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

/// Every variable, sorted by name, each with its position for messages.
fn environment() -> Vec<(EnvName, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    vars.sort();
    vars.into_iter()
        .enumerate()
        .map(|(index, (name, value))| {
            let name = EnvName {
                name,
                position: index + 1,
            };
            (name, value)
        })
        .collect()
}

/// The variables the GLOBs match (SPEC 5), sorted by name, each taken
/// once: by the first given GLOB that matches it, else by the first
/// default one; never one that `--env` names or an `--env-prefix`
/// matches. An over-long value is skipped with a warning; a short one is
/// left to [`Gathered::register`], which knows the minimum length.
fn gather_globs(sources: &[Source], items: &mut Vec<Item>) -> Result<(), UsageError> {
    let mut globs: Vec<(usize, &OsString, bool)> = Vec::new();
    let mut named: Vec<&[u8]> = Vec::new();
    let mut prefixes: Vec<&[u8]> = Vec::new();
    for source in sources {
        match source {
            Source::EnvMatch { glob, given } => {
                if glob.is_empty() {
                    return Err(UsageError("--env-match: the GLOB must not be empty".into()));
                }
                let number = globs.iter().filter(|(_, _, given)| *given).count() + 1;
                globs.push((if *given { number } else { 0 }, glob, *given));
            }
            Source::Env(name) => named.push(name.as_bytes()),
            Source::EnvPrefix(prefix) => prefixes.push(prefix.as_bytes()),
            _ => {}
        }
    }
    if globs.is_empty() {
        return Ok(());
    }
    // Given GLOBs first: a variable one of them matches counts as given.
    globs.sort_by_key(|(_, _, given)| !*given);
    // Given GLOBs that match some variable, even one another option takes
    // (an `--env` name, a prefix, an earlier GLOB): the others are warned
    // about as matching nothing.
    let mut matched_any: Vec<&OsString> = Vec::new();
    for (name, value) in environment() {
        let bytes = name.name.as_bytes();
        for (_, glob, given) in &globs {
            if *given && !matched_any.contains(glob) && glob_matches(glob.as_bytes(), bytes) {
                matched_any.push(glob);
            }
        }
        if named.contains(&bytes) || prefixes.iter().any(|p| bytes.starts_with(p)) {
            continue;
        }
        let Some(&(number, glob, given)) = globs
            .iter()
            .find(|(_, glob, _)| glob_matches(glob.as_bytes(), bytes))
        else {
            continue;
        };
        let origin = Origin::EnvMatch {
            number,
            glob: glob.clone(),
            name,
        };
        if trim(value.as_bytes()).len() > MAX_VALUE_LEN {
            items.push(Item::Warning(origin.to_string(), too_long_reason()));
        } else {
            items.push(Item::Matched {
                origin,
                value: value.into_vec(),
                given,
            });
        }
    }
    for (number, glob, given) in globs {
        if given && !matched_any.contains(&glob) {
            items.push(Item::Warning(
                glob_label(number, glob),
                "no environment variable matches, nothing masked".into(),
            ));
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

/// Drops a leading byte order mark (SPEC 1.1: not part of the value) and
/// trims whitespace and line breaks at both ends, as the registry does for
/// the whole value: the limits here (64 KiB, a GLOB's 8 bytes) and the
/// agent's count the same bytes the registry keeps.
pub fn trim(value: &[u8]) -> &[u8] {
    let value = value.strip_prefix(logmask::BOM).unwrap_or(value);
    let keep = |b: &u8| !matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(keep).unwrap_or(value.len());
    let end = value.iter().rposition(keep).map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_ignoring_ascii_case() {
        let cases: &[(&str, &str, bool)] = &[
            ("*_TOKEN", "GITHUB_TOKEN", true),
            ("*_TOKEN", "github_token", true),
            ("*_TOKEN", "_TOKEN", true),
            ("*_TOKEN", "TOKEN", false),
            ("*_TOKEN", "GITHUB_TOKEN_FILE", false),
            ("*_TOKEN", "X_TOKEN_TOKEN", true),
            ("DEPLOY_*", "DEPLOY_KEY", true),
            ("DEPLOY_*", "MY_DEPLOY_KEY", false),
            ("*KEY*", "A_KEY_B", true),
            ("*", "", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbYcd", false),
            ("A?B", "A?B", true),
            ("A?B", "AXB", false),
            ("A[B]", "a[b]", true),
            ("**_*", "X_", true),
        ];
        for (glob, name, want) in cases {
            assert_eq!(
                glob_matches(glob.as_bytes(), name.as_bytes()),
                *want,
                "{glob} {name}"
            );
        }
    }

    #[test]
    fn names_are_printed_only_when_plain() {
        let env = |name: &str, number| Origin::Env {
            name: name.into(),
            number,
        };
        let matched = |number, glob: &str, name: &str| Origin::EnvMatch {
            number,
            glob: glob.into(),
            name: EnvName {
                name: name.into(),
                position: 7,
            },
        };
        let long = "A".repeat(64);
        let cases: Vec<(Origin, String)> = vec![
            (env("API_TOKEN", 1), "--env API_TOKEN".into()),
            (env("api_token", 2), "--env #2".into()),
            (env("hunter22!", 3), "--env #3".into()),
            (env("9LIVES", 1), "--env #1".into()),
            (env(&"A".repeat(65), 4), "--env #4".into()),
            (env(&long, 4), format!("--env {long}")),
            (
                matched(0, "*_TOKEN", "my_token"),
                "--env-match *_TOKEN (my_token)".into(),
            ),
            (
                matched(0, "*_TOKEN", "my token"),
                "--env-match *_TOKEN (#7)".into(),
            ),
            (
                matched(2, "hunter22!*", "HUNTER22_X"),
                "--env-match #2 (HUNTER22_X)".into(),
            ),
        ];
        for (origin, want) in cases {
            assert_eq!(origin.to_string(), want);
        }
    }
}
