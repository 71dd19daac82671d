//! Credentials nobody registered (SPEC 7): well-known token formats, JWTs,
//! private keys, URL passwords and `Authorization` values, found in the
//! stream and masked like registered secrets.
//!
//! Two stages: [`anchors`] finds eight groups of short literals in one
//! pass ([`fingerprints`]), and at each hit a small validator ([`rows`], [`jwt`],
//! [`context`], [`url`], [`private_key`]) decides. A validator is a pure
//! function of the candidate's bytes (see [`verdict`]); [`Detectors`] keeps
//! each undecided candidate with what its validator waits for, so a held
//! candidate is looked at again only when a byte it does not ignore
//! arrives.
//!
//! Invariants (positions are absolute stream offsets, as the masker's):
//! - Every candidate start that the SPEC's rows allow is found: the
//!   anchors are searched again across write boundaries, and the bytes
//!   from `LOOKBACK` before the end are kept for scheme and prefix starts.
//! - [`Detectors::pending`] is the earliest byte that an undecided
//!   candidate may still mask; every byte before it is decided. Holds are
//!   bounded by each format's longest length.
//! - No detected value is formatted: `Debug` shows counts.

mod alphabet;
mod anchors;
mod checksum;
mod context;
mod fingerprints;
mod jwt;
mod prescan;
mod private_key;
mod rows;
mod url;
mod verdict;

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use alphabet::{B64, B64U, Class};
pub(crate) use anchors::Windows;
use anchors::{Anchors, Hit, Kind, Trigger};
pub use prescan::{Prescanner, Scanned};
use verdict::Verdict;

/// One row group of SPEC 7's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Detector {
    /// GitHub tokens.
    Github,
    /// GitLab tokens.
    Gitlab,
    /// npm tokens.
    Npm,
    /// PyPI upload tokens.
    Pypi,
    /// AWS key ids and secret keys after their key names.
    Aws,
    /// Slack tokens and webhooks.
    Slack,
    /// Stripe keys.
    Stripe,
    /// Google API keys, OAuth client secrets and access tokens.
    Google,
    /// Docker Hub tokens.
    Dockerhub,
    /// HashiCorp Vault tokens.
    Vault,
    /// Atlassian API tokens.
    Atlassian,
    /// OpenAI keys.
    Openai,
    /// Anthropic keys.
    Anthropic,
    /// JSON Web Tokens.
    Jwt,
    /// PEM private keys, escaped or Base64-encoded too.
    PrivateKey,
    /// URL passwords and credential query parameters.
    UrlCredentials,
    /// `Authorization` header values.
    Authorization,
}

impl Detector {
    /// Every detector, in SPEC order.
    pub const ALL: [Detector; 17] = [
        Detector::Github,
        Detector::Gitlab,
        Detector::Npm,
        Detector::Pypi,
        Detector::Aws,
        Detector::Slack,
        Detector::Stripe,
        Detector::Google,
        Detector::Dockerhub,
        Detector::Vault,
        Detector::Atlassian,
        Detector::Openai,
        Detector::Anthropic,
        Detector::Jwt,
        Detector::PrivateKey,
        Detector::UrlCredentials,
        Detector::Authorization,
    ];

    /// The name on the command line and in `detected:NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Github => "github",
            Detector::Gitlab => "gitlab",
            Detector::Npm => "npm",
            Detector::Pypi => "pypi",
            Detector::Aws => "aws",
            Detector::Slack => "slack",
            Detector::Stripe => "stripe",
            Detector::Google => "google",
            Detector::Dockerhub => "dockerhub",
            Detector::Vault => "vault",
            Detector::Atlassian => "atlassian",
            Detector::Openai => "openai",
            Detector::Anthropic => "anthropic",
            Detector::Jwt => "jwt",
            Detector::PrivateKey => "private-key",
            Detector::UrlCredentials => "url-credentials",
            Detector::Authorization => "authorization",
        }
    }

    /// The detector of an exact lower-case name.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Index in [`Detector::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The source label of values it registers: `detected:NAME`.
    pub fn source(self) -> String {
        format!("detected:{}", self.name())
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A choice of detectors. The default is all of them; an empty set turns
/// detection off.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DetectorSet(u32);

/// A detector name that is not one (never echoed: it may be a typo'd
/// secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownDetector;

impl fmt::Display for UnknownDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
        write!(
            f,
            "unknown or empty detector name (known: {})",
            names.join(",")
        )
    }
}

impl std::error::Error for UnknownDetector {}

impl DetectorSet {
    /// Every detector.
    pub fn all() -> DetectorSet {
        DetectorSet((1 << Detector::ALL.len()) - 1)
    }

    /// No detector.
    pub fn empty() -> DetectorSet {
        DetectorSet(0)
    }

    /// Parses a comma-separated list of exact lower-case names.
    pub fn parse(list: &str) -> Result<DetectorSet, UnknownDetector> {
        let mut set = DetectorSet::empty();
        for name in list.split(',') {
            set.insert(Detector::from_name(name).ok_or(UnknownDetector)?);
        }
        Ok(set)
    }

    /// Adds one detector.
    pub fn insert(&mut self, d: Detector) {
        self.0 |= 1 << d.index();
    }

    /// Whether `d` is chosen.
    pub fn contains(self, d: Detector) -> bool {
        self.0 & (1 << d.index()) != 0
    }

    /// Whether no detector is chosen.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The chosen detectors, in SPEC order.
    pub fn iter(self) -> impl Iterator<Item = Detector> {
        Detector::ALL.into_iter().filter(move |&d| self.contains(d))
    }
}

impl Default for DetectorSet {
    fn default() -> Self {
        DetectorSet::all()
    }
}

impl fmt::Debug for DetectorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Detector::name))
            .finish()
    }
}

/// Bytes kept before the end for starts found behind their anchor (a
/// scheme of up to 32 bytes, prefixes, the byte before a start).
const LOOKBACK: usize = 64;
const _: () = assert!(LOOKBACK > anchors::MAX_REACH + anchors::MAX_BACK + 33);

/// Most detected parts waiting for their line's end at once: the most a
/// stream registers (SPEC 7).
const MAX_AWAITING: usize = 10_000;

/// Pieces at least this long are searched where they lie (see
/// [`Detectors::feed`]), after their first `SEAM` bytes.
const IN_PLACE_MIN: usize = 4096;
const SEAM: usize = 256;
const _: () = assert!(SEAM >= LOOKBACK && IN_PLACE_MIN > SEAM);

/// The stream's bytes one step looks at: `bytes`, the first of them at
/// stream offset `start`.
#[derive(Clone, Copy)]
struct Seen<'a> {
    bytes: &'a [u8],
    start: u64,
}

impl<'a> Seen<'a> {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// The bytes from stream offset `at` on.
    fn from(&self, at: u64) -> &'a [u8] {
        &self.bytes[(at - self.start) as usize..]
    }
}

/// What follows the scheme of every Slack webhook URL.
const WEBHOOK_START: &[u8] = b"://hooks.slack.com/services/T";

/// Whether `text` may still begin with `word`: it does, or it is a proper
/// prefix of it (the rest has not arrived yet).
fn may_continue(text: &[u8], word: &[u8]) -> bool {
    let n = text.len().min(word.len());
    text[..n] == word[..n]
}

/// What a URL trigger whose `://` begins `after` may start, judged by the
/// bytes after it: (a password, a Slack webhook). More bytes only turn a
/// yes into a no, and what is read ends at the line's end.
pub(crate) fn url_may_start(after: &[u8], set: DetectorSet) -> (bool, bool) {
    let creds = set.contains(Detector::UrlCredentials) && url::may_hold_credentials(&after[3..]);
    let hook = set.contains(Detector::Slack)
        && after.get(3).is_none_or(|&b| b == WEBHOOK_START[3])
        && may_continue(after, WEBHOOK_START);
    (creds, hook)
}

/// A Slack webhook starts at the scheme of an `https://` URL.
static WEBHOOK: Trigger = Trigger {
    prefix: b"",
    back: 0,
    kind: Kind::Webhook,
    detector: Detector::Slack,
    fold: false,
    query: false,
};

/// An undecided candidate and what its validator waits for.
struct Candidate {
    start: u64,
    kind: Kind,
    detector: Detector,
    /// Bytes up to here have been looked at.
    scanned: u64,
    hold: u64,
    core: &'static Class,
    /// Look again once the candidate is longer than this.
    limit: u64,
    /// Masked up to here already (escaped and Base64 keys).
    sure_end: u64,
    /// Where its PEM block began (PEM lines).
    block_start: u64,
    /// The width of a wrapped Base64 PEM key's lines.
    width: usize,
}

/// A detected credential's secret part, to register from the next line.
pub(crate) struct Detected {
    pub(crate) value: Vec<u8>,
    pub(crate) detector: Detector,
    /// The offset from which it applies: the start of the line after the
    /// one holding its last byte (`u64::MAX` while that line has not ended).
    pub(crate) from: u64,
}

/// What one feed found: masked intervals, and values to register.
#[derive(Default)]
pub(crate) struct Found {
    pub(crate) marks: Vec<(u64, u64, Detector)>,
    pub(crate) detected: Vec<Detected>,
    /// Credentials found, by detector index.
    pub(crate) counts: [u64; 17],
}

/// The detection state of one stream.
pub(crate) struct Detectors {
    set: DetectorSet,
    anchors: Anchors,
    buf: Vec<u8>,
    buf_start: u64,
    candidates: Vec<Candidate>,
    /// Detected parts whose line has not ended yet, with their last byte.
    /// Their values are copied: the bytes are not kept for them.
    awaiting_line_end: Vec<(Detected, u64)>,
    /// Keyed hashes of the waiting parts' values.
    awaiting_values: HashSet<u64>,
    value_keys: RandomState,
    /// Whether detected parts are still wanted (see
    /// [`stop_collecting`](Self::stop_collecting)).
    collect: bool,
    /// The last stretch of the stream found to hold only bytes of one
    /// class (see [`KnownRun`]).
    known_run: KnownRun,
}

/// Bytes `start..end` of the stream are all in `class`. Candidates that
/// overlap, each running over the next (`?sig=?sig=...`: a `?` may be
/// part of a value), would each scan the same bytes up to their bound:
/// with the stretch remembered, a scan that begins inside it resumes at
/// its end, so each byte is scanned about once, whatever the number of
/// candidates. Stream bytes never change, so the stretch stays true.
#[derive(Clone, Copy)]
struct KnownRun {
    class: &'static Class,
    start: u64,
    end: u64,
}

impl KnownRun {
    const NONE: KnownRun = KnownRun {
        class: &alphabet::NOTHING,
        start: 0,
        end: 0,
    };

    fn is(&self, class: &'static Class) -> bool {
        std::ptr::eq(self.class, class)
    }

    /// Where a scan of `class` bytes from `at` may resume.
    fn resume(&self, class: &'static Class, at: u64) -> u64 {
        if self.is(class) && self.start <= at && at < self.end {
            self.end
        } else {
            at
        }
    }

    /// Bytes `start..end` were found to be in `class`.
    fn note(&mut self, class: &'static Class, start: u64, end: u64) {
        if self.is(class) && start <= self.end && self.start <= end {
            self.start = self.start.min(start);
            self.end = self.end.max(end);
        } else if end > start {
            *self = KnownRun { class, start, end };
        }
    }
}

impl Detectors {
    pub(crate) fn new(set: DetectorSet) -> Detectors {
        Detectors {
            set,
            anchors: Anchors::new(set),
            buf: Vec::new(),
            buf_start: 0,
            candidates: Vec::new(),
            awaiting_line_end: Vec::new(),
            awaiting_values: HashSet::new(),
            value_keys: RandomState::new(),
            collect: true,
            known_run: KnownRun::NONE,
        }
    }

    fn end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// The chosen detectors.
    pub(crate) fn set(&self) -> DetectorSet {
        self.set
    }

    /// The earliest byte an undecided candidate may still mask (or the
    /// end: nothing held).
    pub(crate) fn pending(&self) -> u64 {
        let end = self.end();
        let mut p = end;
        for c in &self.candidates {
            p = p.min(c.hold.min(end));
        }
        p.min(self.tail_hold())
    }

    /// A trailing partial start of a credential whose masked part begins
    /// inside its prefix is held from there: `eyJ` and the Base64 of a PEM
    /// key are masked whole, a PyPI token after `pypi-`.
    fn tail_hold(&self) -> u64 {
        const PARTIAL: [(&[u8], usize, Detector); 4] = [
            (b"eyJ", 0, Detector::Jwt),
            (private_key::BASE64_START, 0, Detector::PrivateKey),
            (b"pypi-AgEIcHlwaS5vcmc", 5, Detector::Pypi),
            (b"pypi-AgENdGVzdC5weXBpLm9yZw", 5, Detector::Pypi),
        ];
        let end = self.end();
        let buf = &self.buf;
        let mut hold = end;
        for (word, mask_from, det) in PARTIAL {
            if !self.set.contains(det) {
                continue;
            }
            for k in mask_from + 1..word.len().min(buf.len() + 1) {
                let at = buf.len() - k;
                if buf[at..] != word[..k] {
                    continue;
                }
                let kind = match det {
                    Detector::Jwt => Kind::Jwt,
                    Detector::PrivateKey => Kind::PemBase64,
                    _ => Kind::Token,
                };
                if start_ok(buf, at, kind) {
                    hold = hold.min(end - (k - mask_from) as u64);
                }
            }
        }
        hold
    }

    /// Reads the next bytes of the stream.
    ///
    /// A long piece met with nothing undecided is searched where it lies:
    /// its first [`SEAM`] bytes go through the held bytes as usual (they
    /// hold the lookback and any start that straddles the two), and if
    /// that leaves nothing undecided, the rest is searched in `data` and
    /// only the bytes still needed are copied. Detection is split
    /// invariant, so this equals feeding the two parts one after the other.
    ///
    /// `windows`, when given, are the window pass's hits over `data`,
    /// found ahead of time (see [`Prescanner`]); the search then skips
    /// that pass.
    pub(crate) fn feed(&mut self, data: &[u8], windows: Option<Windows<'_>>, found: &mut Found) {
        if data.len() < IN_PLACE_MIN || !self.idle() {
            return self.feed_copied(data, windows, found);
        }
        self.feed_copied(&data[..SEAM], windows.map(|w| w.sub(0..SEAM)), found);
        if !self.idle() {
            let rest = windows.map(|w| w.sub(SEAM..data.len()));
            return self.feed_copied(&data[SEAM..], rest, found);
        }
        // `data[..SEAM]` is the end of the held bytes now.
        let seen = Seen {
            bytes: data,
            start: self.end() - SEAM as u64,
        };
        self.advance(seen, SEAM, windows.map(|w| (0, w)), false, found);
        self.ready_lines(seen, found);
        let keep = self.keep_from(seen.end());
        self.buf.clear();
        self.buf.extend_from_slice(seen.from(keep));
        self.buf_start = keep;
    }

    /// Detected parts are no longer wanted (the stream registers no more):
    /// credentials are still masked, but their values are not copied out,
    /// nor held until their line ends.
    pub(crate) fn stop_collecting(&mut self) {
        self.collect = false;
        self.awaiting_line_end.clear();
        self.awaiting_values.clear();
    }

    /// Nothing undecided (waiting detected parts need no held bytes).
    fn idle(&self) -> bool {
        self.candidates.is_empty()
    }

    fn feed_copied(&mut self, data: &[u8], windows: Option<Windows<'_>>, found: &mut Found) {
        let new_from = self.buf.len();
        self.buf.extend_from_slice(data);
        let buf = std::mem::take(&mut self.buf);
        let seen = Seen {
            bytes: &buf,
            start: self.buf_start,
        };
        self.advance(seen, new_from, windows.map(|w| (new_from, w)), false, found);
        self.ready_lines(seen, found);
        self.buf = buf;
        self.retain();
    }

    /// Ends the stream: every candidate is decided, and every detected
    /// part applies from here (the end of input ends its line).
    pub(crate) fn finish(&mut self, found: &mut Found) {
        let buf = std::mem::take(&mut self.buf);
        let seen = Seen {
            bytes: &buf,
            start: self.buf_start,
        };
        self.advance(seen, buf.len(), None, true, found);
        self.buf = buf;
        let end = self.end();
        for (mut d, _) in self.awaiting_line_end.drain(..) {
            d.from = end;
            found.detected.push(d);
        }
        self.awaiting_values.clear();
        self.retain();
    }

    fn advance(
        &mut self,
        seen: Seen<'_>,
        new_from: usize,
        windows: Option<(usize, Windows<'_>)>,
        eof: bool,
        found: &mut Found,
    ) {
        // Candidates already waiting: look again only where they said.
        let waiting = std::mem::take(&mut self.candidates);
        let end = seen.end();
        for mut c in waiting {
            let too_long = end - c.start > c.limit;
            if !too_long && !eof {
                // Its validator runs again once a byte outside its core
                // has come (or at its limit, or the end of input).
                let from = self.known_run.resume(c.core, c.scanned);
                let stop = seen.from(from).iter().position(|&b| !c.core[b as usize]);
                let run_end = stop.map_or(end, |k| from + k as u64);
                self.known_run.note(c.core, c.scanned, run_end);
                if stop.is_none() {
                    c.scanned = end;
                    self.candidates.push(c);
                    continue;
                }
            }
            self.evaluate(seen, c, eof, found);
        }
        // New candidates at the anchors in the new bytes.
        let mut starts: Vec<(u64, Kind, Detector)> = Vec::new();
        let base = seen.start;
        let buf = seen.bytes;
        let set = self.set;
        // The anchors report triggers of chosen detectors only; a URL's
        // two rows are chosen below.
        let mut add = |s: usize, trig: &Trigger| {
            starts.push((base + s as u64, trig.kind, trig.detector));
        };
        let on_hit = |Hit { start, at, trigger }: Hit| {
            if trigger.kind != Kind::Url {
                if start_ok(buf, start, trigger.kind) {
                    add(start, trigger);
                }
                return;
            }
            // What follows `://` rules out most URLs at once, before
            // the scheme is looked for behind it.
            let (creds, hook) = url_may_start(&buf[at..], set);
            if !(creds || hook) {
                return;
            }
            let Some(s) = scheme_start(buf, at) else {
                return;
            };
            if creds {
                add(s, trigger);
            }
            if hook && buf[s..].starts_with(b"https://") && token_start_ok(buf, s) {
                add(s, &WEBHOOK);
            }
        };
        match windows {
            Some((base, windows)) => self.anchors.find_in(buf, new_from, base, windows, on_hit),
            None => self.anchors.find(buf, new_from, on_hit),
        }
        starts.sort_unstable_by_key(|s| (s.0, s.1 as u8, s.2));
        starts.dedup();
        for (start, kind, detector) in starts {
            let c = Candidate {
                start,
                kind,
                detector,
                scanned: start,
                hold: start,
                core: &alphabet::NOTHING,
                limit: 0,
                sure_end: start,
                block_start: start,
                width: 0,
            };
            self.evaluate(seen, c, eof, found);
        }
    }

    /// Runs a candidate's validator on its bytes so far and acts on the
    /// answer; a PEM line chains to the next.
    fn evaluate(&mut self, seen: Seen<'_>, mut c: Candidate, eof: bool, found: &mut Found) {
        loop {
            let text = seen.from(c.start);
            let verdict = match c.kind {
                Kind::Token => rows::tokens(text, eof),
                Kind::Webhook => rows::slack_webhook(text, eof),
                Kind::Jwt => jwt::jwt(text, eof),
                Kind::Url => url::credentials(text, eof),
                Kind::Param => {
                    let class = &url::PARAM_VALUE;
                    let known = self.known_run;
                    let resume =
                        |i: usize| (known.resume(class, c.start + i as u64) - c.start) as usize;
                    let (verdict, run) = url::param(text, eof, resume);
                    if let Some((a, b)) = run {
                        self.known_run
                            .note(class, c.start + a as u64, c.start + b as u64);
                    }
                    verdict
                }
                Kind::AwsSecret => context::aws_secret(text, eof),
                Kind::Authorization => context::authorization(text, eof),
                // Where the part masked so far ends, the run was checked.
                Kind::PemHeader => {
                    private_key::at_header(text, eof, (c.sure_end - c.start) as usize)
                }
                Kind::PemLine => private_key::block_line(text, eof),
                Kind::PemBase64 => private_key::base64_pem(text, eof),
                Kind::PemBase64Line => private_key::base64_line(text, eof, c.width),
                Kind::PemEscapedRest => private_key::escaped_rest(text, eof),
                Kind::PemBase64Rest => private_key::base64_rest(text, eof),
            };
            match verdict {
                Verdict::No => return,
                Verdict::Wait {
                    hold,
                    core,
                    limit,
                    sure,
                } => {
                    let len = text.len();
                    if let Some((a, b)) = sure {
                        let (from, to) = (c.start + a as u64, c.start + b as u64);
                        self.mark(&mut c, from, to, found);
                    }
                    c.hold = c.start + hold.min(len) as u64;
                    c.core = core;
                    c.limit = limit as u64;
                    c.scanned = seen.end();
                    self.candidates.push(c);
                    return;
                }
                Verdict::Found {
                    detector,
                    masked,
                    end,
                } => {
                    // Token rows report their own detector; some may be off.
                    if !self.set.contains(detector) {
                        return;
                    }
                    let (a, b) = (c.start + masked.0 as u64, c.start + masked.1 as u64);
                    // A run masked as it arrives that reached the end of
                    // the text so far: only a piece of it (see below).
                    let piece = a < b && end == text.len() && !eof;
                    let rest = match c.kind {
                        Kind::PemHeader | Kind::PemEscapedRest if piece => {
                            Some(Kind::PemEscapedRest)
                        }
                        Kind::PemBase64 | Kind::PemBase64Rest if piece => Some(Kind::PemBase64Rest),
                        _ => None,
                    };
                    let continued = matches!(c.kind, Kind::PemEscapedRest | Kind::PemBase64Rest);
                    if a < b {
                        if !matches!(c.kind, Kind::PemLine | Kind::PemBase64Line) && !continued {
                            found.counts[detector.index()] += 1;
                        }
                        let already = c.sure_end.max(a);
                        c.sure_end = already;
                        self.mark_interval(already, b, detector, found);
                        // A piece, a rest or a part too long to be a value
                        // (SPEC 1.6) is masked, never registered.
                        let whole = rest.is_none() && !continued;
                        let len = (b - a) as usize;
                        if whole && (8..=crate::MAX_VALUE_LEN).contains(&len) && self.collect {
                            self.await_line_end(&seen.from(a)[..len], detector, b - 1);
                        }
                    }
                    // The rest of a long run is a candidate of its own from
                    // where this piece ends, so the bytes behind it are let
                    // go and each byte is looked at once: a 50 MB run after
                    // a header is masked whole in constant memory.
                    if let Some(kind) = rest {
                        let from = c.start + end as u64;
                        c = Candidate {
                            start: from,
                            kind,
                            detector,
                            scanned: from,
                            hold: from,
                            core: &alphabet::NOTHING,
                            limit: 0,
                            sure_end: from,
                            block_start: from,
                            width: 0,
                        };
                        continue;
                    }
                    let next_line = c.start + end as u64;
                    // A wrapped Base64 key: its first line of 64 or 76,
                    // then each line as long, and the first shorter one.
                    let width = (b - a) as usize;
                    let wrapped = match c.kind {
                        Kind::PemBase64 if width == 64 || width == 76 => Some(width),
                        Kind::PemBase64Line if width == c.width => Some(width),
                        _ => None,
                    };
                    if let Some(width) = wrapped {
                        c = Candidate {
                            start: next_line,
                            kind: Kind::PemBase64Line,
                            detector,
                            scanned: next_line,
                            hold: next_line,
                            core: &alphabet::NOTHING,
                            limit: 0,
                            sure_end: next_line,
                            block_start: next_line,
                            width,
                        };
                        continue;
                    }
                    let chained = match c.kind {
                        Kind::PemHeader if a == b => {
                            found.counts[detector.index()] += 1;
                            Some(next_line)
                        }
                        Kind::PemLine
                            if next_line - c.block_start < private_key::MAX_BLOCK as u64 =>
                        {
                            Some(next_line)
                        }
                        _ => None,
                    };
                    let Some(line) = chained else { return };
                    c = Candidate {
                        start: line,
                        kind: Kind::PemLine,
                        detector,
                        scanned: line,
                        hold: line,
                        core: &alphabet::NOTHING,
                        limit: 0,
                        sure_end: line,
                        block_start: if c.kind == Kind::PemHeader {
                            line
                        } else {
                            c.block_start
                        },
                        width: 0,
                    };
                }
            }
        }
    }

    /// Masks a candidate's part known so far (masked as it arrives).
    fn mark(&self, c: &mut Candidate, from: u64, to: u64, found: &mut Found) {
        if to > c.sure_end {
            let from = c.sure_end.max(from);
            self.mark_interval(from, to, c.detector, found);
            c.sure_end = to;
        }
    }

    fn mark_interval(&self, a: u64, b: u64, d: Detector, found: &mut Found) {
        if a < b {
            found.marks.push((a, b, d));
        }
    }

    /// Keeps a detected part until its line ends. At most
    /// [`MAX_AWAITING`] distinct parts wait at once: a hostile line with no
    /// end can hold any number of credentials, and no stream registers
    /// more than that many anyway. A part already waiting is not kept
    /// twice (it would register nothing new).
    fn await_line_end(&mut self, value: &[u8], detector: Detector, last: u64) {
        if self.awaiting_line_end.len() >= MAX_AWAITING
            || !self.awaiting_values.insert(self.value_keys.hash_one(value))
        {
            return;
        }
        let value = value.to_vec();
        let d = Detected {
            value,
            detector,
            from: u64::MAX,
        };
        self.awaiting_line_end.push((d, last));
    }

    /// Detected parts whose line has now ended are ready to register, in
    /// the order they were found. A part waits for the first line break
    /// after its last byte; a part from an earlier step has none before
    /// the new bytes, so only those are searched, once: a line that never
    /// ends costs nothing per waiting part (searching from each part's
    /// end, a megabyte of `Authorization: Bearer` took seconds).
    fn ready_lines(&mut self, seen: Seen<'_>, found: &mut Found) {
        if self.awaiting_line_end.is_empty() {
            return;
        }
        // Breaks from the earliest waiting part's end that is still held
        // (at most the lookback, undecided candidates and the new bytes):
        // every break before it was looked at by an earlier call.
        let first_last = self.awaiting_line_end.iter().map(|e| e.1).min();
        let lo = first_last.map_or(seen.end(), |l| l.max(seen.start));
        let lo_index = (lo - seen.start) as usize;
        let breaks: Vec<u64> = memchr::memchr_iter(b'\n', &seen.bytes[lo_index..])
            .map(|i| lo + i as u64)
            .collect();
        if breaks.is_empty() {
            return;
        }
        let mut still = Vec::new();
        for (mut d, last) in self.awaiting_line_end.drain(..) {
            let from = last.max(seen.start);
            let at = breaks.partition_point(|&b| b < from);
            match breaks.get(at) {
                Some(&b) => {
                    d.from = b + 1;
                    found.detected.push(d);
                }
                None => still.push((d, last)),
            }
        }
        self.awaiting_line_end = still;
        if self.awaiting_line_end.is_empty() {
            self.awaiting_values.clear();
        }
    }

    /// The first byte that undecided candidates and detected parts still
    /// need, or the lookback before `end`.
    fn keep_from(&self, end: u64) -> u64 {
        let mut keep = end.saturating_sub(LOOKBACK as u64).max(self.buf_start);
        for c in &self.candidates {
            keep = keep.min(c.start);
        }
        keep
    }

    /// Keeps the bytes [`keep_from`](Self::keep_from) asks for.
    fn retain(&mut self) {
        let keep = self.keep_from(self.end());
        let drop = (keep - self.buf_start) as usize;
        self.buf.drain(..drop);
        self.buf_start = keep;
    }
}

impl fmt::Debug for Detectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detectors")
            .field("set", &self.set)
            .field("candidates", &self.candidates.len())
            .field("held_bytes", &self.buf.len())
            .finish()
    }
}

/// The start rule of each kind, judged on the byte before `s`.
fn start_ok(buf: &[u8], s: usize, kind: Kind) -> bool {
    let Some(&prev) = s.checked_sub(1).and_then(|i| buf.get(i)) else {
        return true;
    };
    match kind {
        Kind::Token | Kind::Webhook => !B64U[prev as usize],
        Kind::Jwt => !B64U[prev as usize] && prev != b'.',
        Kind::AwsSecret | Kind::Authorization => !prev.is_ascii_alphanumeric(),
        Kind::PemBase64 => !B64[prev as usize],
        Kind::Url
        | Kind::Param
        | Kind::PemHeader
        | Kind::PemLine
        | Kind::PemBase64Line
        | Kind::PemEscapedRest
        | Kind::PemBase64Rest => true,
    }
}

fn token_start_ok(buf: &[u8], s: usize) -> bool {
    start_ok(buf, s, Kind::Token)
}

/// The start of the scheme before `://` at `p`: the maximal run of SCHEME
/// bytes, which must start with a letter and be at most 32 bytes long.
fn scheme_start(buf: &[u8], p: usize) -> Option<usize> {
    let mut s = p;
    while s > 0 && url::SCHEME[buf[s - 1] as usize] && p - s <= 32 {
        s -= 1;
    }
    let n = p - s;
    ((1..=32).contains(&n)
        && buf[s].is_ascii_alphabetic()
        && !(s > 0 && url::SCHEME[buf[s - 1] as usize]))
        .then_some(s)
}
