//! The first stage: eight anchor groups found in one pass
//! ([`fingerprints`](super::fingerprints)), each hit naming the candidate
//! kinds it may start and where they begin.
//!
//! A group is a few families of prefixes behind short, rare windows of three
//! bytes (`gh?`, `gl?`, a letter and `_`, `A[KSBCT][ICA]`, `eyJ`, `://`,
//! `authorization`'s `iza` in any case, ...), and its triggers are the
//! prefixes themselves, checked at each hit. The groups are chosen so that
//! their nibble products (see the filter) admit few ordinary log windows:
//! on the standard corpus the pass runs at memchr speed, where one packed
//! search over every prefix ran three times slower.
//!
//! Invariant: a trigger is reported exactly once, in the call whose new
//! bytes complete both its prefix and its group's window, so a candidate
//! exists before any byte it may mask is decided.

use super::fingerprints::{BucketBytes, Fingerprints, WIDTH};
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
    /// The rest of an escaped key's run, from where the part masked so far
    /// ends (see [`private_key::escaped_rest`](super::private_key::escaped_rest)).
    PemEscapedRest,
    /// The rest of a Base64 PEM run, likewise.
    PemBase64Rest,
}

/// A trigger: at a hit of its group's window at `p`, the text from
/// `p - back` must read `prefix` (in any ASCII case when `fold`; with `?`
/// or `&` first when `query`), and a candidate of `kind` starts there.
pub(crate) struct Trigger {
    pub(crate) prefix: &'static [u8],
    pub(crate) back: usize,
    pub(crate) kind: Kind,
    pub(crate) detector: Detector,
    pub(crate) fold: bool,
    pub(crate) query: bool,
}

impl Trigger {
    /// Whether a chosen detector needs this trigger: a URL starts both a
    /// password and a Slack webhook.
    pub(crate) fn wanted(&self, set: DetectorSet) -> bool {
        set.contains(self.detector) || (self.kind == Kind::Url && set.contains(Detector::Slack))
    }

    /// Where, from the window's start, the bytes that decide this trigger
    /// end: its prefix and the window.
    const fn reach(&self) -> usize {
        let end = self.prefix.len() - self.back;
        if end > WIDTH { end } else { WIDTH }
    }
}

const fn t(prefix: &'static [u8], back: usize, kind: Kind, detector: Detector) -> Trigger {
    Trigger {
        prefix,
        back,
        kind,
        detector,
        fold: false,
        query: false,
    }
}

/// A credential parameter: `?NAME=` or `&NAME=` (written with `?`).
const fn q(prefix: &'static [u8], back: usize) -> Trigger {
    Trigger {
        query: true,
        ..t(prefix, back, Kind::Param, Detector::UrlCredentials)
    }
}

use Detector as D;
use Kind as K;

/// One anchor group: the window's byte sets and the prefixes behind it.
pub(crate) struct Group {
    pub(crate) window: BucketBytes,
    pub(crate) triggers: &'static [Trigger],
}

const LETTERS_BEFORE_UNDERSCORE: &[u8] = b"mkcrsSb";

/// The groups, one per bucket. A prefix's `back` counts from the
/// window's first byte. Families share a bucket where the nibble products
/// of their windows stay rare in logs (on the standard corpus, 3% more
/// false windows than a bucket for each of sixteen families).
pub(crate) static GROUPS: [Group; 8] = [
    Group {
        // ghp_ gho_ ghu_ ghs_ ghr_ (github_pat_ is behind its `_`);
        // glpat- gldt- glrt- glft- glsoat- glffct- glptt-; hvs. hvb. hvr.
        window: [b"gh", b"hlv", b"poursdfb"],
        triggers: &[
            t(b"gh", 0, K::Token, D::Github),
            t(b"gl", 0, K::Token, D::Gitlab),
            t(b"hvs.", 0, K::Token, D::Vault),
            t(b"hvb.", 0, K::Token, D::Vault),
            t(b"hvr.", 0, K::Token, D::Vault),
        ],
    },
    Group {
        window: [b"AB", b"KSBCTE", b"ICAG"],
        triggers: &[
            t(b"AKIA", 0, K::Token, D::Aws),
            t(b"ASIA", 0, K::Token, D::Aws),
            t(b"ABIA", 0, K::Token, D::Aws),
            t(b"ACCA", 0, K::Token, D::Aws),
            t(b"ATATT3", 0, K::Token, D::Atlassian),
            t(b"-----BEGIN ", 5, K::PemHeader, D::PrivateKey),
        ],
    },
    Group {
        // `eyJ`, the `X-Amz-` and `X-Goog-` parameters, and `authorization`
        // in any case by its `iza` (and `AIza`).
        window: [b"eXiI", b"y-zZ", b"JAGaA"],
        triggers: &[
            t(b"eyJ", 0, K::Jwt, D::Jwt),
            q(b"?X-Amz-Signature=", 1),
            q(b"?X-Amz-Security-Token=", 1),
            q(b"?X-Goog-Signature=", 1),
            Trigger {
                prefix: b"authorization",
                back: 6,
                kind: K::Authorization,
                detector: D::Authorization,
                fold: true,
                query: false,
            },
            t(b"AIza", 1, K::Token, D::Google),
        ],
    },
    Group {
        // The scheme's start is found by the scanner, once for both rows
        // that start there (URL passwords and Slack webhooks). The
        // `_token` parameters by their `_to`, and `client_secret` (below)
        // by its `cli`: behind their underscore they shared the last
        // bucket with every `e_` of `node_modules/`, 63% of the standard
        // corpus's false windows. These buckets were chosen by counting
        // windows on the standard corpus, Python sources and the
        // anchor-dense log.
        window: [b"L:_", b"S/t", b"0/o"],
        triggers: &[
            t(b"LS0tLS1CRUdJTi", 0, K::PemBase64, D::PrivateKey),
            t(b"://", 0, K::Url, D::UrlCredentials),
            q(b"?access_token=", 7),
            q(b"?private_token=", 8),
        ],
    },
    Group {
        window: [b"pG", b"yRO", b"p1C"],
        triggers: &[
            t(b"pypi-Ag", 0, K::Token, D::Pypi),
            t(b"GR1348941", 0, K::Token, D::Gitlab),
            t(b"GOCSPX-", 0, K::Token, D::Google),
        ],
    },
    Group {
        window: [b"sSc", b"iel", b"gci"],
        triggers: &[
            q(b"?sig=", 1),
            q(b"?client_secret=", 1),
            t(b"SecretAccessKey", 0, K::AwsSecret, D::Aws),
        ],
    },
    Group {
        window: [b"xys", b"oak", b"xp2-"],
        triggers: &[
            t(b"xox", 0, K::Token, D::Slack),
            t(b"xapp-", 0, K::Token, D::Slack),
            t(b"ya29.", 0, K::Token, D::Google),
            t(b"sk-", 0, K::Token, D::Openai),
            t(b"sk-", 0, K::Token, D::Anthropic),
        ],
    },
    Group {
        // The letter before the first `_` of each prefix.
        window: [LETTERS_BEFORE_UNDERSCORE, b"_", b""],
        triggers: &[
            t(b"github_pat_", 5, K::Token, D::Github),
            t(b"npm_", 2, K::Token, D::Npm),
            t(b"sk_live_", 1, K::Token, D::Stripe),
            t(b"rk_live_", 1, K::Token, D::Stripe),
            t(b"sk_test_", 1, K::Token, D::Stripe),
            t(b"rk_test_", 1, K::Token, D::Stripe),
            t(b"whsec_", 4, K::Token, D::Stripe),
            t(b"dckr_pat_", 3, K::Token, D::Dockerhub),
            t(b"dckr_oat_", 3, K::Token, D::Dockerhub),
            t(b"aws_secret_access_key", 2, K::AwsSecret, D::Aws),
            t(b"AWS_SECRET_ACCESS_KEY", 2, K::AwsSecret, D::Aws),
        ],
    },
];

/// The farthest any trigger's deciding bytes reach past its window's
/// start, and the farthest any trigger starts before its window, over
/// the whole table.
const BOUNDS: (usize, usize) = {
    let (mut reach, mut back) = (0, 0);
    let mut g = 0;
    while g < GROUPS.len() {
        let mut i = 0;
        while i < GROUPS[g].triggers.len() {
            let t = &GROUPS[g].triggers[i];
            if t.reach() > reach {
                reach = t.reach();
            }
            if t.back > back {
                back = t.back;
            }
            i += 1;
        }
        g += 1;
    }
    (reach, back)
};

/// The farthest any trigger's deciding bytes reach past its window's
/// start: a window that far before the new bytes may still complete a
/// trigger.
pub(crate) const MAX_REACH: usize = BOUNDS.0;

/// Farthest any trigger starts before its window.
pub(crate) const MAX_BACK: usize = BOUNDS.1;

/// The compiled first stage, for the chosen detectors only.
pub(crate) struct Anchors {
    fingerprints: Fingerprints,
    /// For each group and each byte: the chosen triggers (bit `i` for
    /// `triggers[i]`) whose window starts with that byte, so that a hit
    /// looks only at the prefixes it may start.
    by_first: Box<[[u32; 256]; 8]>,
}

/// One trigger whose prefix is in the text: the candidate's start, the
/// window's start (`://` for URLs) and the trigger.
pub(crate) struct Hit {
    pub(crate) start: usize,
    pub(crate) at: usize,
    pub(crate) trigger: &'static Trigger,
}

/// The window pass's hits over some bytes, found ahead of time: `list`
/// is [`Anchors::windows`] of a larger text (less hits that
/// [`Anchors::may_trigger`] ruled out), and these bytes are its
/// `first..first + len`. Positions given out are relative to these bytes;
/// a window is theirs when it lies wholly inside them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows<'a> {
    list: &'a [(u32, u8)],
    first: usize,
    pub(crate) len: usize,
}

impl<'a> Windows<'a> {
    /// The windows of the whole text that `list` was found in.
    pub(crate) fn new(list: &'a [(u32, u8)], len: usize) -> Windows<'a> {
        Windows {
            list,
            first: 0,
            len,
        }
    }

    /// The windows of `self`'s bytes `range`.
    pub(crate) fn sub(self, range: std::ops::Range<usize>) -> Windows<'a> {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "outside the bytes"
        );
        let first = self.first + range.start;
        let len = range.end - range.start;
        // Windows wholly inside `first..first + len` begin from `first` to
        // `first + len - WIDTH`.
        let lo = self.list.partition_point(|&(at, _)| (at as usize) < first);
        let hi = self
            .list
            .partition_point(|&(at, _)| (at as usize) + WIDTH <= first + len);
        Windows {
            list: &self.list[lo..hi.max(lo)],
            first,
            len,
        }
    }

    /// The windows beginning at `from` or later, by position.
    pub(crate) fn starting_at(self, from: usize) -> impl Iterator<Item = (usize, u8)> + 'a {
        let first = self.first;
        let skip = self
            .list
            .partition_point(|&(at, _)| (at as usize) < first + from);
        self.list[skip..]
            .iter()
            .map(move |&(at, buckets)| (at as usize - first, buckets))
    }
}

impl Anchors {
    pub(crate) fn new(set: DetectorSet) -> Anchors {
        let mut enabled = 0u8;
        for (j, g) in GROUPS.iter().enumerate() {
            if g.triggers.iter().any(|t| t.wanted(set)) {
                enabled |= 1 << j;
            }
        }
        let windows: Vec<BucketBytes> = GROUPS.iter().map(|g| g.window).collect();
        let mut by_first = Box::new([[0u32; 256]; 8]);
        for (g, table) in GROUPS.iter().zip(by_first.iter_mut()) {
            assert!(g.triggers.len() <= 32);
            for (i, t) in g.triggers.iter().enumerate() {
                if !t.wanted(set) {
                    continue;
                }
                let own = t.prefix[t.back];
                table[own as usize] |= 1 << i;
                if t.fold {
                    table[own.to_ascii_uppercase() as usize] |= 1 << i;
                }
            }
        }
        Anchors {
            fingerprints: Fingerprints::new(&windows, enabled),
            by_first,
        }
    }

    /// Every trigger of a chosen detector whose prefix is in `text` and
    /// that the bytes from `new_from` on complete (see the module's
    /// invariant), in increasing order of window. `text` must hold the
    /// [`MAX_REACH`] + [`MAX_BACK`] bytes before `new_from` when the
    /// stream has them.
    pub(crate) fn find(&self, text: &[u8], new_from: usize, mut hit: impl FnMut(Hit)) {
        let from = new_from.saturating_sub(MAX_REACH - 1);
        self.fingerprints.find(text, from, |at, buckets| {
            self.check(text, new_from, at, buckets, &mut hit)
        });
    }

    /// Like [`find`](Self::find), with the window pass over
    /// `text[base..]` already done (`windows`, from [`windows`](Self::windows),
    /// less hits that [`may_trigger`](Self::may_trigger) ruled out); the
    /// windows that begin before `base` and are still needed are
    /// classified here.
    pub(crate) fn find_in(
        &self,
        text: &[u8],
        new_from: usize,
        base: usize,
        windows: Windows<'_>,
        mut hit: impl FnMut(Hit),
    ) {
        debug_assert_eq!(windows.len, text.len() - base, "windows of other bytes");
        let from = new_from.saturating_sub(MAX_REACH - 1);
        if from < base {
            // The windows that begin before `base` end by `base + WIDTH - 1`.
            let seam = &text[..(base + WIDTH - 1).min(text.len())];
            self.fingerprints.find(seam, from, |at, buckets| {
                self.check(text, new_from, at, buckets, &mut hit)
            });
        }
        for (at, buckets) in windows.starting_at(from.saturating_sub(base)) {
            self.check(text, new_from, base + at, buckets, &mut hit);
        }
    }

    /// The window pass alone: every window of `text` that may hold an
    /// anchor, with its buckets, in increasing order. A pure function of
    /// `text` (and the chosen detectors), so it may run ahead of the
    /// stream, on another thread.
    pub(crate) fn windows(&self, text: &[u8], out: &mut Vec<(u32, u8)>) {
        assert!(
            u32::try_from(text.len()).is_ok(),
            "windows of at most 4 GiB"
        );
        self.fingerprints
            .find(text, 0, |at, buckets| out.push((at as u32, buckets)));
    }

    /// The triggers of one window hit at `at`.
    #[inline(always)]
    fn check(
        &self,
        text: &[u8],
        new_from: usize,
        at: usize,
        buckets: u8,
        hit: &mut impl FnMut(Hit),
    ) {
        for trigger in self.triggers(text[at], buckets) {
            let end = at + trigger.reach();
            if end <= new_from || end > text.len() {
                continue;
            }
            let Some(start) = at.checked_sub(trigger.back) else {
                continue;
            };
            if prefix_at(text, start, trigger) {
                hit(Hit { start, at, trigger });
            }
        }
    }

    /// The chosen triggers of a window hit's `buckets` whose own byte is
    /// `first` (the window's first byte).
    #[inline(always)]
    fn triggers(&self, first: u8, mut buckets: u8) -> impl Iterator<Item = &'static Trigger> + '_ {
        let mut group = 0;
        let mut chosen = 0u32;
        std::iter::from_fn(move || {
            while chosen == 0 {
                if buckets == 0 {
                    return None;
                }
                group = buckets.trailing_zeros() as usize;
                buckets &= buckets - 1;
                chosen = self.by_first[group][first as usize];
            }
            let trigger = &GROUPS[group].triggers[chosen.trailing_zeros() as usize];
            chosen &= chosen - 1;
            Some(trigger)
        })
    }

    /// Whether a window hit of `text` (a chunk scanned ahead) may be a
    /// trigger when the masker searches it, with `url` judging what
    /// follows a URL trigger's `://`. False only when every trigger of
    /// its buckets has its prefix wholly in `text` and it does not match
    /// (or `url` rules the URL out). The masker's text around a window
    /// is the chunk's but across bytes the protocol took out, and those
    /// are whole lines: a prefix (never holding a `\n`) that lies in the
    /// chunk lies in one line, so the masker sees the same bytes there,
    /// and what `url` reads ends at the line's end.
    pub(crate) fn may_trigger(
        &self,
        text: &[u8],
        at: usize,
        buckets: u8,
        url: impl Fn(&[u8]) -> bool,
    ) -> bool {
        self.triggers(text[at], buckets).any(|trigger| {
            let Some(start) = at.checked_sub(trigger.back) else {
                return true;
            };
            at + trigger.reach() > text.len()
                || start + trigger.prefix.len() > text.len()
                || prefix_at(text, start, trigger)
                    && (trigger.kind != Kind::Url || url(&text[at..]))
        })
    }
}

/// Whether `text` from `start` reads the trigger's prefix.
#[inline(always)]
fn prefix_at(text: &[u8], start: usize, trigger: &Trigger) -> bool {
    let Some(bytes) = text.get(start..start + trigger.prefix.len()) else {
        return false;
    };
    // A byte loop: most prefixes are a few bytes, and the call to memcmp
    // cost more than comparing them.
    if trigger.fold {
        bytes.eq_ignore_ascii_case(trigger.prefix)
    } else if trigger.query {
        matches!(bytes[0], b'?' | b'&')
            && bytes[1..]
                .iter()
                .zip(&trigger.prefix[1..])
                .all(|(a, b)| a == b)
    } else {
        bytes.iter().zip(trigger.prefix).all(|(a, b)| a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_lies_in_its_groups_window() {
        for g in &GROUPS {
            for t in g.triggers {
                let w = &t.prefix[t.back..];
                for (k, set) in g.window.iter().enumerate() {
                    let Some(b) = w.get(k) else { continue };
                    let ok = set.is_empty()
                        || set.contains(b)
                        || (t.fold && set.contains(&b.to_ascii_uppercase()));
                    assert!(ok, "{:?} at {k}", String::from_utf8_lossy(t.prefix));
                }
            }
        }
    }

    #[test]
    fn triggers_are_found_in_every_split() {
        let all = DetectorSet::all();
        let anchors = Anchors::new(all);
        let cases: &[(&[u8], &[u8])] = &[
            (b"x ghp_abc", b"gh"),
            (b"x github_pat_1", b"github_pat_"),
            (b"glpat-x", b"gl"),
            (b"(AKIAX", b"AKIA"),
            (b"ATATT3x", b"ATATT3"),
            (b"eyJx", b"eyJ"),
            (b"LS0tLS1CRUdJTiBQ", b"LS0tLS1CRUdJTi"),
            (b"https://u", b"://"),
            (b"AuthoriZATION: x", b"authorization"),
            (b"key AIzaSy", b"AIza"),
            (b"pypi-AgEI", b"pypi-Ag"),
            (b"GR1348941x", b"GR1348941"),
            (b"GOCSPX-x", b"GOCSPX-"),
            (b"u?sig=x", b"?sig="),
            (b"u&X-Amz-Security-Token=x", b"&X-Amz-Security-Token="),
            (b"-----BEGIN RSA", b"-----BEGIN "),
            (b"xoxb-1", b"xox"),
            (b"xapp-1", b"xapp-"),
            (b"ya29.x", b"ya29."),
            (b"sk-proj-", b"sk-"),
            (b"hvs.x", b"hvs."),
            (b"SecretAccessKey=", b"SecretAccessKey"),
            (b"npm_x", b"npm_"),
            (b"sk_live_x", b"sk_live_"),
            (b"whsec_x", b"whsec_"),
            (b"dckr_oat_x", b"dckr_oat_"),
            (b"AWS_SECRET_ACCESS_KEY=", b"AWS_SECRET_ACCESS_KEY"),
            (b"a?client_secret=x", b"?client_secret="),
            (b"a&private_token=x", b"&private_token="),
            (b"x?access_token=y", b"?access_token="),
        ];
        for &(text, prefix) in cases {
            // Fed in two pieces at every cut, and a byte at a time.
            for cut in 0..=text.len() {
                let mut found = Vec::new();
                for (seen, new_from) in [(cut, 0), (text.len(), cut)] {
                    anchors.find(&text[..seen], new_from, |h| {
                        let matched = &text[h.start..h.start + h.trigger.prefix.len()];
                        found.push((h.start, matched.to_ascii_lowercase()));
                    });
                }
                let want = text
                    .windows(prefix.len())
                    .position(|w| w.eq_ignore_ascii_case(prefix))
                    .unwrap();
                let hits: Vec<_> = found
                    .iter()
                    .filter(|f| f.1 == prefix.to_ascii_lowercase())
                    .collect();
                assert!(
                    !hits.is_empty() && hits.iter().all(|f| f.0 == want),
                    "{:?} cut {cut}: {found:?}",
                    String::from_utf8_lossy(text)
                );
                // Exactly once per trigger (`sk-` has two rows).
                let per = if prefix == b"sk-" { 2 } else { 1 };
                assert_eq!(
                    hits.len(),
                    per,
                    "{:?} cut {cut}",
                    String::from_utf8_lossy(text)
                );
            }
            let mut found = 0;
            for end in 1..=text.len() {
                anchors.find(&text[..end], end - 1, |h| {
                    let matched = &text[h.start..h.start + h.trigger.prefix.len()];
                    found += usize::from(matched.eq_ignore_ascii_case(prefix))
                });
            }
            let per = if prefix == b"sk-" { 2 } else { 1 };
            assert_eq!(
                found,
                per,
                "{:?} byte by byte",
                String::from_utf8_lossy(text)
            );
        }
    }
}
