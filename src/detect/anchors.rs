//! The first stage: one packed (Teddy) search for the multi-byte anchors
//! and one `memchr3` for the single-byte ones (`_`, `?`, `&`), each hit
//! naming the candidate kinds it may start and how far back they begin.

use aho_corasick::packed::{Config, MatchKind, Searcher};
use memchr::{memchr2_iter, memchr3_iter};

use super::{Detector, DetectorSet};

/// What an anchor hit may be the start of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A token row ([`super::rows`]), starting at its prefix.
    Token,
    /// A Slack webhook URL, starting at its `https`.
    Webhook,
    Jwt,
    /// `SCHEME://`, starting at the scheme.
    Url,
    /// `?` or `&` + a credential parameter.
    Param,
    /// An `aws` secret key name.
    AwsSecret,
    Authorization,
    /// `-----BEGIN ...`.
    PemHeader,
    /// One line of a PEM block.
    PemLine,
    /// The Base64 of a PEM key.
    PemBase64,
    /// A line after a wrapped Base64 PEM key's first line.
    PemBase64Line,
}

/// A trigger: at an anchor, `back` bytes before it must read `prefix`
/// (which ends with the anchor), and a candidate of `kind` starts there.
pub(crate) struct Trigger {
    pub(crate) prefix: &'static [u8],
    pub(crate) back: usize,
    pub(crate) kind: Kind,
    pub(crate) detector: Detector,
}

const fn t(prefix: &'static [u8], back: usize, kind: Kind, detector: Detector) -> Trigger {
    Trigger {
        prefix,
        back,
        kind,
        detector,
    }
}

use Detector as D;
use Kind as K;

/// Triggers at `_`: the prefix ends at its last `_`.
pub(crate) static UNDERSCORE: &[Trigger] = &[
    t(b"ghp_", 3, K::Token, D::Github),
    t(b"gho_", 3, K::Token, D::Github),
    t(b"ghu_", 3, K::Token, D::Github),
    t(b"ghs_", 3, K::Token, D::Github),
    t(b"ghr_", 3, K::Token, D::Github),
    t(b"github_pat_", 10, K::Token, D::Github),
    t(b"npm_", 3, K::Token, D::Npm),
    t(b"sk_live_", 7, K::Token, D::Stripe),
    t(b"rk_live_", 7, K::Token, D::Stripe),
    t(b"sk_test_", 7, K::Token, D::Stripe),
    t(b"rk_test_", 7, K::Token, D::Stripe),
    t(b"whsec_", 5, K::Token, D::Stripe),
    t(b"dckr_pat_", 8, K::Token, D::Dockerhub),
    t(b"dckr_oat_", 8, K::Token, D::Dockerhub),
    t(b"aws_secret_access_key", 17, K::AwsSecret, D::Aws),
    t(b"AWS_SECRET_ACCESS_KEY", 17, K::AwsSecret, D::Aws),
];

/// Multi-byte anchors (one packed search), each with its triggers (`back` is 0 unless said).
pub(crate) static PACKED: &[(&[u8], &[Trigger])] = &[
    (b"glp", &[t(b"glp", 0, K::Token, D::Gitlab)]),
    (b"gld", &[t(b"gld", 0, K::Token, D::Gitlab)]),
    (b"glr", &[t(b"glr", 0, K::Token, D::Gitlab)]),
    (b"glf", &[t(b"glf", 0, K::Token, D::Gitlab)]),
    (b"gls", &[t(b"gls", 0, K::Token, D::Gitlab)]),
    (b"GR1348941", &[t(b"GR1348941", 0, K::Token, D::Gitlab)]),
    (b"pypi-Ag", &[t(b"pypi-Ag", 0, K::Token, D::Pypi)]),
    (b"AKIA", &[t(b"AKIA", 0, K::Token, D::Aws)]),
    (b"ASIA", &[t(b"ASIA", 0, K::Token, D::Aws)]),
    (b"ABIA", &[t(b"ABIA", 0, K::Token, D::Aws)]),
    (b"ACCA", &[t(b"ACCA", 0, K::Token, D::Aws)]),
    (
        b"SecretAccessKey",
        &[t(b"SecretAccessKey", 0, K::AwsSecret, D::Aws)],
    ),
    (b"xox", &[t(b"xox", 0, K::Token, D::Slack)]),
    (b"xapp-", &[t(b"xapp-", 0, K::Token, D::Slack)]),
    (b"AIza", &[t(b"AIza", 0, K::Token, D::Google)]),
    (b"GOCSPX-", &[t(b"GOCSPX-", 0, K::Token, D::Google)]),
    (b"ya29.", &[t(b"ya29.", 0, K::Token, D::Google)]),
    (b"hvs.", &[t(b"hvs.", 0, K::Token, D::Vault)]),
    (b"hvb.", &[t(b"hvb.", 0, K::Token, D::Vault)]),
    (b"hvr.", &[t(b"hvr.", 0, K::Token, D::Vault)]),
    (b"ATATT3", &[t(b"ATATT3", 0, K::Token, D::Atlassian)]),
    (
        b"sk-",
        &[
            t(b"sk-", 0, K::Token, D::Openai),
            t(b"sk-", 0, K::Token, D::Anthropic),
        ],
    ),
    (b"eyJ", &[t(b"eyJ", 0, K::Jwt, D::Jwt)]),
    (
        b"-----BEGIN ",
        &[t(b"-----BEGIN ", 0, K::PemHeader, D::PrivateKey)],
    ),
    (
        b"LS0tLS1CRUdJTi",
        &[t(b"LS0tLS1CRUdJTi", 0, K::PemBase64, D::PrivateKey)],
    ),
    // The scheme's start is found by the scanner; `back` is unused.
    (
        b"://",
        &[
            t(b"://", 0, K::Url, D::UrlCredentials),
            t(b"://", 0, K::Url, D::Slack),
        ],
    ),
];

/// Longest multi-byte anchor.
pub(crate) const MAX_ANCHOR: usize = 15;

/// The compiled first stage, for the chosen detectors only.
pub(crate) struct Anchors {
    /// `None` when no multi-byte anchor is needed.
    searcher: Option<Searcher>,
    /// Pattern id to index in [`PACKED`].
    packed: Vec<usize>,
    /// Whether `_ ? &` and `authorization`'s `z` are searched.
    bytes: bool,
    authorization: bool,
}

/// One hit: where the anchor starts, and which (None: authorization).
pub(crate) enum Hit {
    Packed(usize, &'static [Trigger]),
    Authorization(usize),
    Byte(usize, u8),
}

impl Anchors {
    pub(crate) fn new(set: DetectorSet) -> Anchors {
        let mut builder = Config::new().match_kind(MatchKind::LeftmostFirst).builder();
        let mut packed = Vec::new();
        for (i, (anchor, triggers)) in PACKED.iter().enumerate() {
            if triggers.iter().any(|t| set.contains(t.detector)) {
                builder.add(anchor);
                packed.push(i);
            }
        }
        let searcher =
            (!packed.is_empty()).then(|| builder.build().expect("fewer than 64 anchors"));
        let bytes = set.contains(Detector::UrlCredentials)
            || UNDERSCORE.iter().any(|t| set.contains(t.detector));
        Anchors {
            searcher,
            packed,
            bytes,
            authorization: set.contains(Detector::Authorization),
        }
    }

    /// Every anchor hit in `text` that ends at or after `new_from`, in no
    /// particular order. Hits may overlap: each search restarts one byte
    /// after the last hit's start.
    pub(crate) fn find(&self, text: &[u8], new_from: usize, mut hit: impl FnMut(Hit)) {
        let mut at = new_from.saturating_sub(MAX_ANCHOR - 1);
        while let Some(searcher) = self.searcher.as_ref().filter(|_| at < text.len()) {
            let Some(m) = searcher.find_in(text, aho_corasick::Span::from(at..text.len())) else {
                break;
            };
            if m.end() > new_from {
                let id = self.packed[m.pattern().as_usize()];
                hit(Hit::Packed(m.start(), PACKED[id].1));
            }
            at = m.start() + 1;
        }
        if !self.bytes {
            return self.find_authorization(text, new_from, hit);
        }
        for p in memchr3_iter(b'_', b'?', b'&', &text[new_from..]) {
            hit(Hit::Byte(new_from + p, text[new_from + p]));
        }
        self.find_authorization(text, new_from, hit);
    }

    /// `authorization` in any case: its `z` (rare in logs apart from
    /// timestamps, which the next two bytes reject at once), with the `i`
    /// before it and the `a` after.
    fn find_authorization(&self, text: &[u8], new_from: usize, mut hit: impl FnMut(Hit)) {
        if !self.authorization {
            return;
        }
        let from = new_from.saturating_sub(1);
        for p in memchr2_iter(b'z', b'Z', &text[from..]) {
            let z = from + p;
            if z >= 7
                && text.get(z + 1).is_some_and(|&b| b | 0x20 == b'a')
                && text[z - 1] | 0x20 == b'i'
                && (z + 1 >= new_from)
            {
                hit(Hit::Authorization(z - 1));
            }
        }
    }
}
