//! Secret values in, variants out: the registry every stream shares.
//!
//! A value is split into trimmed lines, checked against the minimum length,
//! opened when it is a JSON object or array, and expanded into its
//! variants (SPEC section 1). The registry keeps each variant once and
//! hands streams an immutable [`Matcher`] for the current generation.
//!
//! With `decoded` chosen, each line that is wholly Base64 or hex and
//! decodes to text (see [`crate::decoded`]) also registers its decoding,
//! expanded like a value of its own in the other chosen encodings and
//! never decoded again; those variants are tagged [`Encoding::Decoded`].
//!
//! Invariants:
//! - Each variant is tagged with the first encoding, in SPEC 1.3 order,
//!   that produced it from its line.
//! - No variant is empty or holds `\n` or `\r`; a `raw` variant is at least
//!   the minimum length and every other one at least max(minimum, 4).
//! - A value is never formatted: [`Refusal`] says why, never what, and the
//!   registry's `Debug` shows counts only.
//! - Additions are amortised: new variants go into a small batch, and
//!   batches are merged in tiers: a batch's level is the logarithm of its
//!   size to base `MERGE_FANOUT`, and once that many batches of one level
//!   stand at the end they become one of a higher level (a smaller batch
//!   before a new one is folded into it first). Every rebuild raises the
//!   level of each variant it holds, so each is rebuilt O(log n) times
//!   however the additions are spread, and a matcher has at most
//!   `MERGE_FANOUT - 1` batches a level: O(log n) batches. For a stream
//!   ([`Registry::stream_matcher`]) a fold of many variants is built on a
//!   thread of its own while the stream searches on with the batches it
//!   replaces (at most `MAX_BATCHES` of them), and is swapped in once
//!   built, if they are still there.
//! - Compaction ([`Registry::compact`]) rebuilds every variant into one
//!   batch without changing the variant set, and moves the generation on
//!   like an addition does; streams ask for it once the extra batches have
//!   cost them more searching than the rebuild costs (see
//!   [`crate::stream`]). A matcher's variants are exactly the registry's
//!   at its generation whichever batches hold them, so any matcher of the
//!   current generation gives the same output.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::encoding::{Encoding, EncodingSet};
use crate::matcher::{Batch, Matcher};
use crate::origin::{API_SOURCE, Origin};

/// Longest trimmed value accepted, in bytes (SPEC 1.6).
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// The UTF-8 byte order mark, never part of a value (SPEC 1.1).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Default minimum length of a masked line.
pub const DEFAULT_MIN_LENGTH: usize = 4;

/// How values become variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Shortest line (and whole value) that is masked; at least 1.
    pub min_length: usize,
    /// The encodings each value is registered in.
    pub encodings: EncodingSet,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_length: DEFAULT_MIN_LENGTH,
            encodings: EncodingSet::all(),
        }
    }
}

/// Why a value registered nothing. Its `Display` never shows the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The value is empty or only whitespace and line breaks.
    Blank,
    /// No line and not the whole value reach the minimum length.
    TooShort {
        /// The minimum length in force.
        min_length: usize,
    },
    /// The trimmed value is longer than [`MAX_VALUE_LEN`].
    TooLong,
    /// A line reaches the minimum length, but no chosen encoding gives the
    /// value a variant to keep (`--encodings shell` of a value a shell
    /// prints as it is; a `hex` form below the 4-byte floor).
    NoForm {
        /// The shortest variant kept, max(minimum, 4) (SPEC 1.3).
        floor: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Blank => f.write_str("value is empty or blank, nothing masked"),
            Refusal::TooShort { min_length } => write!(
                f,
                "value is shorter than the minimum length ({min_length}), nothing masked"
            ),
            Refusal::TooLong => write!(
                f,
                "value is longer than {} KiB, nothing masked",
                MAX_VALUE_LEN / 1024
            ),
            Refusal::NoForm { floor } => write!(
                f,
                "no chosen encoding gives the value a form to mask (forms shorter than {floor} \
                 bytes are dropped), nothing masked"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// What one accepted value added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Added {
    /// Variants that were not registered before.
    pub new_variants: usize,
}

/// The shared set of secrets. Cheap to share (`Arc<Registry>`), safe to
/// add to from any thread at any time.
pub struct Registry {
    config: Config,
    generation: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Clone, Default)]
struct Inner {
    /// Every variant, to its index in `variants`.
    seen: VariantIndex,
    /// Keyed (SipHash) hasher of the variants in `seen`, so that values an
    /// untrusted step registers cannot be chosen to collide.
    hasher: RandomState,
    /// Every variant, in insertion order; batches cover consecutive ranges.
    variants: Vec<Arc<[u8]>>,
    /// The first origin of each variant, parallel to `variants`
    /// ([`PackedOrigin`]: eight bytes a variant, whatever the label).
    origins: Vec<PackedOrigin>,
    /// Further origins of variants that more than one source registered.
    more_origins: HashMap<u32, Vec<PackedOrigin>>,
    /// (variant, label) of every origin of the variants with more than
    /// [`ORIGINS_SEARCHED`] origins, so that adding one stays cheap: a
    /// form that 40,000 values share (the Base64 of a common tail) made
    /// start-up quadratic, two fifths of 4.5 s.
    origin_labels: HashSet<(u32, u32)>,
    /// Source labels, each stored once: a `--file` of 10,000 lines has
    /// 10,000 labels, a stream's in-band values one label per line.
    labels: Vec<Arc<str>>,
    label_ids: HashMap<Arc<str>, u32>,
    secrets: usize,
    /// Every distinct variant length, so that a run's attribution looks
    /// up only the suffixes that can be variants (see [`crate::runs`]).
    lengths: BTreeSet<usize>,
    batches: Vec<(Range<usize>, Arc<Batch>)>,
    /// A batch built ahead of time for the variants in this range
    /// ([`Registry::adopt`]), taken instead of building them when the
    /// next build covers exactly that range.
    adoptable: Option<(Range<usize>, Arc<Batch>)>,
    snapshot: Option<Arc<Matcher>>,
    /// A build split its variants in two batches: the first stream to
    /// search a few MiB with them has them compacted on a thread of its
    /// own ([`Registry::compact_in_background`]).
    compaction_due: bool,
    /// A fold of many variants the last build completed: the batches
    /// covering this range are to become one, on a thread of its own
    /// (see [`Registry::stream_matcher`]). A build that finds it still
    /// here folds it in place.
    merge_due: Option<Range<usize>>,
    /// A merge is being built on a thread of its own: at most one at a
    /// time, so that bursts cost one core beside the stream's.
    merging: bool,
}

impl Registry {
    /// An empty registry with the default configuration.
    pub fn new() -> Registry {
        Registry::with_config(Config::default())
    }

    /// An empty registry. A `min_length` of 0 is taken as 1.
    pub fn with_config(mut config: Config) -> Registry {
        config.min_length = config.min_length.max(1);
        Registry {
            config,
            generation: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The configuration values are expanded with.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Registers one secret value: its lines, its whole, its encodings and,
    /// for a JSON object or array, every string in it.
    ///
    /// Streams see the new variants from their next write on (SPEC 1.5).
    ///
    /// Its source label is `api`; [`add_from`](Self::add_from) names one.
    pub fn add(&self, value: &[u8]) -> Result<Added, Refusal> {
        self.add_from(value, API_SOURCE)
    }

    /// Like [`add`](Self::add), with the label reports give its variants
    /// (`--env DEPLOY_TOKEN`, `stdin:12`): a name, never the value.
    pub fn add_from(&self, value: &[u8], source: &str) -> Result<Added, Refusal> {
        let hasher = self.lock().hasher.clone();
        let variants = self.prepared(value, &hasher)?;
        Ok(self.insert(variants, source))
    }

    /// A value's variants, expanded and hashed ready to insert (away from
    /// the lock: `hasher` is the registry's, cloned).
    fn prepared(&self, value: &[u8], hasher: &RandomState) -> Result<Vec<Prepared>, Refusal> {
        expand_tagged(value, &self.config).map(|variants| prepare(variants, hasher))
    }

    /// Registers many values, as [`add`](Self::add) on each in order would,
    /// expanding them on several threads when there are enough of them to
    /// be worth it (a secrets file of thousands of lines at start-up).
    pub fn add_all(&self, values: &[&[u8]]) -> Vec<Result<Added, Refusal>> {
        let labelled: Vec<(&[u8], &str)> = values.iter().map(|v| (*v, API_SOURCE)).collect();
        self.add_all_from(&labelled)
    }

    /// [`add_all`](Self::add_all) with a source label for each value.
    pub fn add_all_from(&self, values: &[(&[u8], &str)]) -> Vec<Result<Added, Refusal>> {
        const PER_THREAD_MIN: usize = 512;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(values.len() / PER_THREAD_MIN)
            .max(1);
        // The variants are hashed and copied to their final allocation on
        // the expanding threads too: under the lock, inserting is then a
        // table probe per variant (hashing 78,000 variants there was a
        // seventh of start-up at 10,000 secrets).
        let hasher = self.lock().hasher.clone();
        let expand_all = |values: &[(&[u8], &str)]| -> Vec<Result<Vec<Prepared>, Refusal>> {
            values
                .iter()
                .map(|(v, _)| self.prepared(v, &hasher))
                .collect()
        };
        let expanded: Vec<Result<Vec<Prepared>, Refusal>> = if threads == 1 {
            expand_all(values)
        } else {
            let chunk = values.len().div_ceil(threads);
            std::thread::scope(|scope| {
                // A part whose thread cannot start (a process limit) is
                // expanded here when its turn comes.
                let parts: Vec<_> = values
                    .chunks(chunk)
                    .map(|part| {
                        let thread = std::thread::Builder::new()
                            .spawn_scoped(scope, move || expand_all(part));
                        (part, thread)
                    })
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|(part, thread)| match thread {
                        Ok(thread) => thread
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                        Err(_) => expand_all(part),
                    })
                    .collect()
            })
        };
        let total: usize = expanded.iter().flatten().map(Vec::len).sum();
        self.lock().reserve(total);
        expanded
            .into_iter()
            .zip(values)
            .map(|(variants, (_, source))| variants.map(|variants| self.insert(variants, source)))
            .collect()
    }

    /// Expands `values` as [`add_from`](Self::add_from) would, registering
    /// none of them, and builds one batch of the variants that are new to
    /// the registry now. A stream that detects many parts in one piece
    /// checks the piece against the batch, registers the values
    /// ([`add_staged`](Self::add_staged)) and offers the batch back
    /// ([`adopt`](Self::adopt)), so that its variants are expanded once and,
    /// when nothing else was added meanwhile, built once.
    pub(crate) fn stage(&self, values: &[&[u8]]) -> Staged {
        let hasher = self.lock().hasher.clone();
        let values: Vec<Option<Result<Vec<Prepared>, Refusal>>> = values
            .iter()
            .map(|v| Some(self.prepared(v, &hasher)))
            .collect();
        let mut new = Vec::new();
        {
            let inner = self.lock();
            let mut staged: HashSet<&Seen, BuildHasherDefault<PassThrough>> = HashSet::default();
            for prepared in values.iter().flatten().flatten().flatten() {
                let Seen { hash, variant } = &prepared.seen;
                if inner.seen.get(*hash, variant, &inner.variants).is_none()
                    && staged.insert(&prepared.seen)
                {
                    new.push(variant.clone());
                }
            }
        }
        let batch = (!new.is_empty()).then(|| Arc::new(Batch::build(&new)));
        Staged { values, new, batch }
    }

    /// Registers the staged value at `index` as [`add_from`](Self::add_from)
    /// would have (its variants already expanded). At most once a value.
    pub(crate) fn add_staged(
        &self,
        staged: &mut Staged,
        index: usize,
        source: &str,
    ) -> Result<Added, Refusal> {
        let prepared = staged.values[index]
            .take()
            .expect("a staged value is registered at most once");
        prepared.map(|variants| self.insert(variants, source))
    }

    /// Offers the staged batch as the batch of the variants added since
    /// the last build: taken when those are exactly the staged new ones,
    /// the same allocations in the same order (every staged value was
    /// registered, nothing else was), and the next build covers them
    /// alone. Otherwise they are built as always.
    pub(crate) fn adopt(&self, staged: Staged) {
        let Some(batch) = staged.batch else {
            return;
        };
        let mut inner = self.lock();
        let built = inner.built();
        let pending = &inner.variants[built..];
        if pending.len() == staged.new.len()
            && pending
                .iter()
                .zip(&staged.new)
                .all(|(a, b)| Arc::ptr_eq(a, b))
        {
            inner.adoptable = Some((built..inner.variants.len(), batch));
        }
    }

    /// Adds the variants of one accepted value, each with its origin.
    fn insert(&self, variants: Vec<Prepared>, source: &str) -> Added {
        let mut inner = self.lock();
        let label = inner.label_id(source);
        let before = inner.variants.len();
        for Prepared {
            seen: Seen { hash, variant },
            form,
        } in variants
        {
            let origin = PackedOrigin::new(label, form);
            let inner = &mut *inner;
            match inner.seen.insert(hash, &variant, &inner.variants) {
                Some(index) => inner.add_origin(index, origin),
                None => {
                    inner.lengths.insert(variant.len());
                    inner.variants.push(variant);
                    inner.origins.push(origin);
                }
            }
        }
        let new_variants = inner.variants.len() - before;
        inner.secrets += 1;
        if new_variants > 0 {
            inner.snapshot = None;
            self.generation.fetch_add(1, Ordering::Release);
        }
        Added { new_variants }
    }

    /// A number that changes whenever the matcher changes: variants were
    /// added, or its batches were merged into one (the same variants).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The matcher for the current generation, built on first use. A
    /// build of many variants at once (start-up's: see `SPLIT_BUILD_MIN`)
    /// makes two batches on two threads, which streams have compacted on a
    /// thread of their own once they have searched a few MiB.
    pub fn matcher(&self) -> Arc<Matcher> {
        self.matcher_folding(false)
    }

    /// The matcher for a stream, which searches on while large folds are
    /// built: like [`matcher`](Self::matcher), except that a new batch
    /// completing a tier of at least [`BACKGROUND_MERGE_MIN`] variants is
    /// built alone, and the tier is merged into one batch on a thread of
    /// its own and swapped in when done (the same variants, so streams
    /// take it at any refresh, as a compaction). A dense log's burst of
    /// detected credentials then costs the stream's thread only the new
    /// batches. Without a thread, the merge is done here.
    pub(crate) fn stream_matcher(self: &Arc<Registry>) -> Arc<Matcher> {
        let matcher = self.matcher_folding(true);
        self.start_due_merge();
        matcher
    }

    fn matcher_folding(&self, in_background: bool) -> Arc<Matcher> {
        let mut inner = self.lock();
        if let Some(m) = &inner.snapshot {
            return m.clone();
        }
        inner.build_pending_batch(in_background);
        let batches = inner.batches.iter().map(|(_, b)| b.clone()).collect();
        let matcher = Arc::new(Matcher::new(batches, self.generation()));
        inner.snapshot = Some(matcher.clone());
        matcher
    }

    /// Starts the merge the last build made due, unless one is running.
    fn start_due_merge(self: &Arc<Registry>) {
        let mut inner = self.lock();
        if inner.merging {
            return;
        }
        if let Some(range) = inner.merge_due.take() {
            drop(inner);
            self.merge_in_background(range);
        }
    }

    /// Builds the variants in `range` into one batch on a thread of its
    /// own and puts it in place of the batches that cover exactly that
    /// range, if they still do (see [`install_merged`](Self::install_merged)),
    /// then merges each tier that filled meanwhile
    /// ([`merge_until_done`](Self::merge_until_done)). Where no thread
    /// starts, does the same here. Does nothing while another merge runs.
    fn merge_in_background(self: &Arc<Registry>, range: Range<usize>) {
        {
            let mut inner = self.lock();
            // Checked and set in one step: two streams may ask at once. A
            // tier left here is found by the running merge when it ends.
            if inner.merging {
                return;
            }
            inner.merging = true;
        }
        let registry = Arc::clone(self);
        let for_thread = range.clone();
        let spawned = std::thread::Builder::new()
            .name("logmask-merge".into())
            .spawn(move || registry.merge_until_done(for_thread));
        if spawned.is_err() {
            // A process limit: merge here, as a build without threads would.
            self.merge_until_done(range);
        }
    }

    /// The work of a merge (`merging` is set): builds and installs
    /// `range`, then each tier that filled while it was built (builds
    /// then add their batches alone), and ends `merging`. The last look
    /// for a tier and the end of `merging` are one step under the lock,
    /// so no tier is left between them.
    fn merge_until_done(&self, mut range: Range<usize>) {
        // Cleared however the build ends: a panic must not stop every
        // later merge.
        struct Running<'a>(&'a Registry, bool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.lock().merging = false;
                }
            }
        }
        let mut running = Running(self, true);
        loop {
            let variants = self.lock().variants[range.clone()].to_vec();
            self.install_merged(Arc::new(Batch::build(&variants)), range);
            let mut inner = self.lock();
            match inner.tier_to_merge() {
                Some(next) => range = next,
                None => {
                    inner.merging = false;
                    drop(inner);
                    running.1 = false;
                    return;
                }
            }
        }
    }

    /// Rebuilds every variant into one batch, so that a stream searches
    /// the text once instead of once a batch. The variants stay the same,
    /// so a stream may take the new matcher at any refresh; the generation
    /// moves on so that every stream on this registry does. Does nothing
    /// (and returns false) when the matcher is built and has one batch.
    ///
    /// Streams compact on their own when the extra batches have cost as
    /// much searching as the rebuild; a caller about to search much text
    /// with one set of secrets (every file of an archive, on forks of one
    /// registry) compacts first: then no build is split in two halves
    /// (see [`matcher`](Self::matcher)) and no fork rebuilds its own.
    pub fn compact(&self) -> bool {
        let mut inner = self.lock();
        if inner.batches.len() <= 1 && inner.built() == inner.variants.len() {
            return false;
        }
        let all = 0..inner.variants.len();
        let batch = Batch::build(&inner.variants);
        inner.adoptable = None;
        inner.batches = vec![(all, Arc::new(batch))];
        inner.snapshot = None;
        inner.compaction_due = false;
        inner.merge_due = None;
        self.generation.fetch_add(1, Ordering::Release);
        true
    }

    /// When a build split its variants in two batches (see
    /// [`SPLIT_BUILD_MIN`]), rebuilds every variant built so far into one
    /// batch on a thread of its own, and swaps it in for the batches it
    /// covers if they are still those (a later fold may have taken some,
    /// and then the rebuild is dropped). Streams take it at their next
    /// refresh, as a compaction; until then they search both halves. At
    /// most once a split (later, while another merge runs); without a
    /// thread, it is done here.
    pub(crate) fn compact_in_background(self: &Arc<Registry>) {
        let mut inner = self.lock();
        if !inner.compaction_due || inner.merging {
            return;
        }
        inner.compaction_due = false;
        let built = inner.built();
        drop(inner);
        self.merge_in_background(0..built);
    }

    /// Puts `batch`, the variants in `range`, in place of the batches
    /// that cover exactly `range`, if there are such batches and more
    /// than one (a fold or a compaction may have taken some meanwhile:
    /// then the merge is dropped).
    fn install_merged(&self, batch: Arc<Batch>, range: Range<usize>) {
        if self.lock().replace_batches(range, batch) {
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Every (source, form) pair that registered `variant`, in the order
    /// they were first registered; empty when it is not a variant. For
    /// reports, which ask once per masked run: it takes the lock.
    pub fn origins(&self, variant: &[u8]) -> Vec<Origin> {
        let inner = self.lock();
        let hash = inner.hasher.hash_one(variant);
        let Some(index) = inner.seen.get(hash, variant, &inner.variants) else {
            return Vec::new();
        };
        let first = std::iter::once(&inner.origins[index as usize]);
        let more = inner.more_origins.get(&index).into_iter().flatten();
        first
            .chain(more)
            .map(|packed| Origin {
                source: inner.labels[packed.label() as usize].clone(),
                form: packed.form(),
            })
            .collect()
    }

    /// Appends to `out` every origin of every variant that is a suffix of
    /// `occurrence` (itself included), under one lock. Each variant that
    /// occurs anywhere in a masked run is a suffix of an occurrence the
    /// matcher reported (see [`crate::runs`]).
    pub(crate) fn suffix_origins(&self, occurrence: &[u8], out: &mut Vec<Origin>) {
        let inner = self.lock();
        for &len in inner.lengths.range(..=occurrence.len()) {
            let suffix = &occurrence[occurrence.len() - len..];
            let hash = inner.hasher.hash_one(suffix);
            let Some(index) = inner.seen.get(hash, suffix, &inner.variants) else {
                continue;
            };
            let first = std::iter::once(&inner.origins[index as usize]);
            let more = inner.more_origins.get(&index).into_iter().flatten();
            out.extend(first.chain(more).map(|packed| Origin {
                source: inner.labels[packed.label() as usize].clone(),
                form: packed.form(),
            }));
        }
    }

    /// The length of the longest variant (0 when there is none).
    pub(crate) fn longest_variant(&self) -> usize {
        self.lock().lengths.last().copied().unwrap_or(0)
    }

    /// An independent copy: the same values, origins and configuration,
    /// sharing the built matcher batches. What is added to one is not seen
    /// by the other (`logmask scan` gives each file its own, so one
    /// file's `::add-mask::` lines do not apply to the next).
    pub fn fork(&self) -> Registry {
        let mut inner = self.lock().clone();
        // A merge running for this registry installs here, not there.
        inner.merging = false;
        Registry {
            config: self.config,
            generation: AtomicU64::new(self.generation()),
            inner: Mutex::new(inner),
        }
    }

    /// Number of values accepted so far.
    pub fn secrets(&self) -> usize {
        self.lock().secrets
    }

    /// Number of distinct variants registered so far.
    pub fn variants(&self) -> usize {
        self.lock().variants.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the sets half-updated
        // in a way that matters for masking (at worst a variant is missing
        // from a batch and gets rebuilt), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Room for `more` variants, so that a large `add_all` grows the set
    /// once rather than rehashing it at every doubling.
    fn reserve(&mut self, more: usize) {
        self.seen.reserve(more);
        self.variants.reserve(more);
        self.origins.reserve(more);
    }

    /// The id of a source label, stored on first use.
    fn label_id(&mut self, source: &str) -> u32 {
        if let Some(&id) = self.label_ids.get(source) {
            return id;
        }
        let id = self.labels.len() as u32;
        let label: Arc<str> = source.into();
        self.labels.push(label.clone());
        self.label_ids.insert(label, id);
        id
    }

    /// Records one more origin of variant `index`. A source keeps its
    /// first form only: the form a report names is the first encoding
    /// that produced the variant from that source (SPEC 8).
    fn add_origin(&mut self, index: u32, origin: PackedOrigin) {
        let first = self.origins[index as usize];
        if first.label() == origin.label() {
            return;
        }
        let more = self.more_origins.entry(index).or_default();
        if more.len() < ORIGINS_SEARCHED {
            if more.iter().all(|o| o.label() != origin.label()) {
                more.push(origin);
            }
            if more.len() == ORIGINS_SEARCHED {
                let labels = more.iter().map(|o| (index, o.label()));
                self.origin_labels.extend(labels);
            }
        } else if self.origin_labels.insert((index, origin.label())) {
            more.push(origin);
        }
        if more.is_empty() {
            self.more_origins.remove(&index);
        }
    }

    /// How many variants the batches hold: those after are pending.
    fn built(&self) -> usize {
        self.batches.last().map_or(0, |(r, _)| r.end)
    }

    /// Builds the variants added since the last build into a batch,
    /// folding into it the batches before it that the tiers say (see the
    /// module docs). With `in_background`, a fold of at least
    /// [`BACKGROUND_MERGE_MIN`] variants is left to a thread: the new
    /// batch is built alone and the fold's range made due
    /// ([`Registry::stream_matcher`] starts it). A due fold that no thread
    /// took is done first, here.
    fn build_pending_batch(&mut self, in_background: bool) {
        // An offered batch serves the next build or none.
        let adoptable = self.adoptable.take();
        let built = self.built();
        if built == self.variants.len() {
            return;
        }
        if let Some(range) = self.merge_due.take() {
            let batch = Arc::new(Batch::build(&self.variants[range.clone()]));
            self.replace_batches(range, batch);
        }
        let pending = built..self.variants.len();
        let lens: Vec<usize> = self.batches.iter().map(|(r, _)| r.len()).collect();
        let keep = self.batches.len() - batches_to_fold(&lens, pending.len());
        let fold = self.batches.get(keep).map_or(built, |(r, _)| r.start)..pending.end;
        let defer = in_background
            && keep < self.batches.len()
            && fold.len() >= BACKGROUND_MERGE_MIN
            && self.batches.len() < MAX_BATCHES;
        if defer {
            if !self.merging {
                self.merge_due = Some(fold);
            }
            self.push_batch(pending, adoptable);
        } else {
            self.batches.truncate(keep);
            self.push_batch(fold, adoptable);
        }
    }

    /// Builds the batch of `range`, the variants after every batch (or
    /// takes the adoptable one built for exactly them); a large one is
    /// built as two halves at once.
    fn push_batch(&mut self, range: Range<usize>, adoptable: Option<(Range<usize>, Arc<Batch>)>) {
        let batch = match adoptable {
            Some((adopted, batch)) if adopted == range => batch,
            _ if range.len() >= SPLIT_BUILD_MIN => {
                let mut start = range.start;
                let parts = build_halves(&self.variants[range]);
                self.compaction_due |= parts.len() > 1;
                for (len, batch) in parts {
                    self.batches.push((start..start + len, batch));
                    start += len;
                }
                return;
            }
            _ => Arc::new(Batch::build(&self.variants[range.clone()])),
        };
        self.batches.push((range, batch));
    }

    /// The first run of at least MERGE_FANOUT consecutive batches of one
    /// level holding BACKGROUND_MERGE_MIN variants or more: a tier that
    /// builds completed while a merge ran (they add their batches alone).
    fn tier_to_merge(&self) -> Option<Range<usize>> {
        let mut start = 0;
        while start < self.batches.len() {
            let level = merge_level(self.batches[start].0.len());
            let run = self.batches[start..]
                .iter()
                .take_while(|(r, _)| merge_level(r.len()) == level)
                .count();
            let range = self.batches[start].0.start..self.batches[start + run - 1].0.end;
            if run >= MERGE_FANOUT && range.len() >= BACKGROUND_MERGE_MIN {
                return Some(range);
            }
            start += run;
        }
        None
    }

    /// Puts `batch`, the variants in `range`, in place of the batches
    /// that cover exactly `range`, if there are such batches and more
    /// than one; says whether it did.
    fn replace_batches(&mut self, range: Range<usize>, batch: Arc<Batch>) -> bool {
        let first = self
            .batches
            .iter()
            .position(|(r, _)| r.start == range.start);
        let last = self.batches.iter().position(|(r, _)| r.end == range.end);
        match (first, last) {
            (Some(first), Some(last)) if first < last => {
                self.batches.splice(first..=last, [(range, batch)]);
                self.snapshot = None;
                true
            }
            _ => false,
        }
    }
}

/// How many of the last batches (of lengths `lens`, in order) a new batch
/// of `new` variants folds in: a smaller batch before it is folded into
/// it first, and so are the batches before it when they complete a tier
/// of MERGE_FANOUT batches of its level. Each fold raises the level of
/// every variant it rebuilds.
fn batches_to_fold(lens: &[usize], new: usize) -> usize {
    let mut kept = lens.len();
    let mut len = new;
    while let Some(&last) = lens[..kept].last() {
        let level = merge_level(len);
        let fold = if merge_level(last) < level {
            1
        } else {
            let peers = lens[..kept]
                .iter()
                .rev()
                .take_while(|&&l| merge_level(l) == level)
                .count();
            if peers + 1 < MERGE_FANOUT {
                break;
            }
            MERGE_FANOUT - 1
        };
        len += lens[kept - fold..kept].iter().sum::<usize>();
        kept -= fold;
    }
    lens.len() - kept
}

/// Folds of at least this many variants are built on a thread of their
/// own for streams ([`Registry::stream_matcher`]): a dense log's burst of
/// 10,000 detected credentials made six folds of about 10,000 variants,
/// 9 ms each on the stream's thread. Smaller ones cost less than starting
/// a thread.
const BACKGROUND_MERGE_MIN: usize = 4096;

/// Most batches a build leaves while merges are built in the background;
/// beyond, it folds in place as it would without threads, so that a
/// stream never searches the text more than this many times over.
const MAX_BATCHES: usize = 32;

/// Builds of at least this many variants (start-up's, beyond about 2,000
/// secrets) take two threads: two batches of half the variants each,
/// built at once, took about half the time of one batch of all of them
/// (10,000 secrets: 22 against 45 ms). A stream that searches two batches
/// searches the text twice, so they are compacted in the background once
/// a stream has searched a few MiB ([`Registry::compact_in_background`]).
const SPLIT_BUILD_MIN: usize = 16_384;

/// Batches of the two halves of `variants`, in order, each with how many
/// variants it holds; without a second thread (a process limit), one
/// batch of all of them.
fn build_halves(variants: &[Arc<[u8]>]) -> Vec<(usize, Arc<Batch>)> {
    let (first, second) = variants.split_at(variants.len() / 2);
    std::thread::scope(|scope| {
        match std::thread::Builder::new().spawn_scoped(scope, || Batch::build(second)) {
            Ok(thread) => {
                let built = Arc::new(Batch::build(first));
                let other = thread
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                vec![(first.len(), built), (second.len(), Arc::new(other))]
            }
            Err(_) => vec![(variants.len(), Arc::new(Batch::build(variants)))],
        }
    })
}

/// How many batches of one level make a batch of the next: each variant
/// is rebuilt about log_FANOUT(n) times, and a matcher has at most
/// FANOUT - 1 batches a level. Two (a binary counter) rebuilt a burst of
/// 10,000 detected credentials thirteen times over and spent half the
/// stream's time building; a larger fanout trades those builds for a few
/// more batches to scan, which only lasts until compaction.
const MERGE_FANOUT: usize = 8;

/// The level of a batch of `len` variants: batches of one level are
/// within a factor MERGE_FANOUT of each other in size.
fn merge_level(len: usize) -> u32 {
    len.max(1).ilog(MERGE_FANOUT)
}

/// One variant's expansion: its bytes and the encoding that produced them.
type Tagged = (Vec<u8>, Encoding);

/// A variant ready to insert: in its shared allocation, with its hash.
struct Prepared {
    seen: Seen,
    form: Encoding,
}

/// Values expanded ahead of their registration, and the batch of their
/// variants that were new when staged ([`Registry::stage`]).
pub(crate) struct Staged {
    /// Each value's variants (or why it is refused), taken when it is
    /// registered.
    values: Vec<Option<Result<Vec<Prepared>, Refusal>>>,
    /// The staged variants new to the registry, in the order registering
    /// every value would add them.
    new: Vec<Arc<[u8]>>,
    batch: Option<Arc<Batch>>,
}

impl Staged {
    /// The batch of the new variants (none when there are none).
    pub(crate) fn batch(&self) -> Option<&Batch> {
        self.batch.as_deref()
    }

    /// The variants of the value at `index` (none once it is registered
    /// or when it is refused).
    pub(crate) fn variants(&self, index: usize) -> impl Iterator<Item = &[u8]> {
        self.values[index]
            .iter()
            .flatten()
            .flatten()
            .map(|p| &p.seen.variant[..])
    }
}

impl fmt::Debug for Staged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staged")
            .field("values", &self.values.len())
            .field("new_variants", &self.new.len())
            .finish()
    }
}

/// The variants of one value, hashed with the registry's `hasher`.
fn prepare(variants: Vec<Tagged>, hasher: &RandomState) -> Vec<Prepared> {
    variants
        .into_iter()
        .map(|(v, form)| {
            let variant: Arc<[u8]> = v.into();
            Prepared {
                seen: Seen {
                    hash: hasher.hash_one(&variant),
                    variant,
                },
                form,
            }
        })
        .collect()
}

/// A source label's id and a form, in eight bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedOrigin(u64);

impl PackedOrigin {
    fn new(label: u32, form: Encoding) -> PackedOrigin {
        PackedOrigin(u64::from(label) << 8 | form as u64)
    }

    fn label(self) -> u32 {
        (self.0 >> 8) as u32
    }

    fn form(self) -> Encoding {
        Encoding::ALL[(self.0 & 0xff) as usize]
    }
}

/// A variant with its hash, computed once: growing the set then moves
/// entries without hashing their bytes again.
#[derive(Clone)]
struct Seen {
    hash: u64,
    variant: Arc<[u8]>,
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        self.hash == other.hash && self.variant == other.variant
    }
}

impl Eq for Seen {}

impl Hash for Seen {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Each variant's index in [`Inner::variants`], found by its content: a
/// table from the variant's keyed hash to its index, which holds no copy
/// of the bytes (16 bytes an entry; a table of `Seen` took 32 and an
/// atomic increment in each variant's allocation, a third of inserting
/// 78,000 variants at start-up).
#[derive(Clone, Default)]
struct VariantIndex {
    by_hash: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Variants whose hash an earlier, different one has. With a keyed
    /// 64-bit hash, a pair collides with probability 2^-64 and no value
    /// can be chosen to: this stays empty in practice, and keeps the
    /// index exact all the same.
    collided: HashMap<Arc<[u8]>, u32>,
}

impl VariantIndex {
    /// The index of the variant `bytes`, whose hash is `hash`.
    fn get(&self, hash: u64, bytes: &[u8], variants: &[Arc<[u8]>]) -> Option<u32> {
        let &index = self.by_hash.get(&hash)?;
        if *variants[index as usize] == *bytes {
            Some(index)
        } else {
            self.collided.get(bytes).copied()
        }
    }

    /// Records `variant`, whose hash is `hash`, as the next one
    /// (`variants.len()`), unless it is there already: then returns the
    /// index it has.
    fn insert(&mut self, hash: u64, variant: &Arc<[u8]>, variants: &[Arc<[u8]>]) -> Option<u32> {
        let next = variants.len() as u32;
        match self.by_hash.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(next);
                None
            }
            Entry::Occupied(slot) if *variants[*slot.get() as usize] == **variant => {
                Some(*slot.get())
            }
            Entry::Occupied(_) => match self.collided.entry(variant.clone()) {
                Entry::Vacant(slot) => {
                    slot.insert(next);
                    None
                }
                Entry::Occupied(slot) => Some(*slot.get()),
            },
        }
    }

    fn reserve(&mut self, more: usize) {
        self.by_hash.reserve(more);
    }
}

/// Further origins of one variant that [`Inner::add_origin`] compares a
/// new one with; past them, it looks the pair up in a set.
const ORIGINS_SEARCHED: usize = 8;

/// The hasher of [`Seen`] and of [`VariantIndex`]: its input is already
/// a keyed hash.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached: the keys are one u64. Kept total all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Registry")
            .field("config", &self.config)
            .field("secrets", &inner.secrets)
            .field("variants", &inner.variants.len())
            .field("batches", &inner.batches.len())
            .field("generation", &self.generation())
            .finish()
    }
}

/// Whitespace in SPEC's sense: space and tab only.
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_blank_or_break(b: u8) -> bool {
    is_blank(b) || b == b'\n' || b == b'\r'
}

pub(crate) fn trim_by(value: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let start = value.iter().position(|&b| !pred(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !pred(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// The variants of one value and, for JSON, of every string inside it.
///
/// Fails only for the value itself: strings found inside JSON that are too
/// short are skipped silently (SPEC 1.4).
pub fn expand(value: &[u8], config: &Config) -> Result<Vec<Vec<u8>>, Refusal> {
    expand_tagged(value, config).map(|variants| variants.into_iter().map(|(v, _)| v).collect())
}

/// [`expand`], each variant with the first encoding that produced it;
/// every variant that comes from a decoding is tagged
/// [`Encoding::Decoded`].
fn expand_tagged(value: &[u8], config: &Config) -> Result<Vec<Tagged>, Refusal> {
    // A byte order mark is not part of the value (SPEC 1.1); JSON parsers
    // refuse one, so it must go before the value is opened.
    let value = value.strip_prefix(BOM).unwrap_or(value);
    // A minimum of 0 would let an empty line through as an empty variant.
    let config = &Config {
        min_length: config.min_length.max(1),
        ..*config
    };
    let whole = trim_by(value, is_blank_or_break);
    if whole.is_empty() {
        return Err(Refusal::Blank);
    }
    if whole.len() > MAX_VALUE_LEN {
        return Err(Refusal::TooLong);
    }
    let too_short = Refusal::TooShort {
        min_length: config.min_length,
    };
    if whole.len() < config.min_length {
        return Err(too_short);
    }
    let mut out = Vec::new();
    let mut decodings = Decodings::default();
    let decode = config.encodings.contains(Encoding::Decoded);
    expand_value(
        whole,
        config,
        None,
        decode.then_some(&mut decodings),
        &mut out,
    );
    // A decoding is a value of its own in every other chosen encoding,
    // never decoded again (SPEC 1.3), and silently nothing when too short.
    let others = Config {
        encodings: config.encodings.without(Encoding::Decoded),
        ..*config
    };
    for decoding in decodings.found {
        let decoding = decoding.strip_prefix(BOM).unwrap_or(&decoding);
        let decoding = trim_by(decoding, is_blank_or_break);
        if decoding.len() >= config.min_length {
            expand_value(decoding, &others, Some(Encoding::Decoded), None, &mut out);
        }
    }
    if out.is_empty() {
        // Too short only if no line reached the minimum: otherwise the
        // chosen encodings had nothing to give (SPEC 1.2's warning, with
        // its true reason).
        let a_line_passes = whole
            .split(|&b| b == b'\n' || b == b'\r')
            .any(|line| trim_by(line, is_blank_or_break).len() >= config.min_length);
        return Err(if a_line_passes {
            Refusal::NoForm {
                floor: config.min_length.max(4),
            }
        } else {
            too_short
        });
    }
    Ok(out)
}

/// Expands one trimmed value and every string inside it when it is JSON
/// (SPEC 1.1 to 1.4), tagging each variant with `tag` when given, and
/// collecting the decodings of its lines into `decodings` when given.
fn expand_value(
    whole: &[u8],
    config: &Config,
    tag: Option<Encoding>,
    mut decodings: Option<&mut Decodings>,
    out: &mut Vec<Tagged>,
) {
    let mut queue = vec![whole.to_vec()];
    while let Some(value) = queue.pop() {
        let value = trim_by(&value, is_blank_or_break);
        if value.len() >= config.min_length {
            expand_plain(value, config, tag, out);
            if let Some(decodings) = decodings.as_deref_mut() {
                for line in lines(value, config.min_length) {
                    for decoding in crate::decoded::decodings(line, config.min_length) {
                        decodings.add(decoding);
                    }
                }
            }
        }
        open_json(value, &mut queue);
    }
}

/// The distinct decodings of a value's lines, in the order found.
#[derive(Default)]
struct Decodings {
    found: Vec<Vec<u8>>,
    /// Keyed (SipHash): a value of thousands of Base64 lines stays linear.
    seen: HashSet<Vec<u8>>,
}

impl Decodings {
    fn add(&mut self, decoding: Vec<u8>) {
        if self.seen.insert(decoding.clone()) {
            self.found.push(decoding);
        }
    }
}

/// The trimmed lines of `whole` that reach the minimum length.
fn lines(whole: &[u8], min_length: usize) -> impl Iterator<Item = &[u8]> {
    whole
        .split(|&b| b == b'\n' || b == b'\r')
        .map(|line| trim_by(line, is_blank))
        .filter(move |line| line.len() >= min_length)
}

/// Variants of a trimmed value that is at least the minimum length: each
/// long-enough line in every encoding, and the multi-line whole in every
/// encoding but `raw`. Each is tagged with `tag` when given, else with
/// the encoding that produced it.
fn expand_plain(whole: &[u8], config: &Config, tag: Option<Encoding>, out: &mut Vec<Tagged>) {
    let floor = config.min_length.max(4);
    let mut forms = Vec::new();
    // `decoded` has no forms of its own: expand_value handles it.
    let encodings = config.encodings.without(Encoding::Decoded);
    // Most encodings of a plain token are the token itself: dropping the
    // repeats among one line's forms spares the registry a hash and a copy
    // of each (comparing with other lines' forms could be quadratic).
    // Encodings come in SPEC order, so the first to produce a form is the
    // one it is tagged with.
    let keep = |forms: &mut Vec<Vec<u8>>, out: &mut Vec<Tagged>, kept: &mut Distinct, encoding| {
        for form in forms.drain(..) {
            if form.len() >= floor
                && memchr::memchr2(b'\n', b'\r', &form).is_none()
                && kept.is_new(out, &form)
            {
                out.push((form, tag.unwrap_or(encoding)));
                kept.pushed(out);
            }
        }
    };
    for line in lines(whole, config.min_length) {
        let mut kept = Distinct::new(out.len());
        let raw_kept = encodings.contains(Encoding::Raw);
        let changed = crate::encoding::changing(line);
        for encoding in encodings.iter() {
            if encoding != Encoding::Raw && raw_kept && !changed.contains(encoding) {
                // Every form would be the raw one, already kept.
                continue;
            }
            if encoding == Encoding::Raw {
                // The raw form only has to reach the minimum length itself.
                if kept.is_new(out, line) {
                    out.push((line.to_vec(), tag.unwrap_or(Encoding::Raw)));
                    kept.pushed(out);
                }
            } else {
                encoding.encode_into(line, &mut forms);
                keep(&mut forms, out, &mut kept, encoding);
            }
        }
    }
    if whole.iter().any(|&b| b == b'\n' || b == b'\r') {
        let mut kept = Distinct::new(out.len());
        for encoding in encodings.iter().filter(|e| *e != Encoding::Raw) {
            encoding.encode_into(whole, &mut forms);
            keep(&mut forms, out, &mut kept, encoding);
        }
    }
}

/// The forms of one line (or one whole value) in `out[first..]`, each
/// kept once. While they are few (a token's dozen forms) a new one is
/// compared with each; past [`Distinct::LINEAR`] a keyed index of their
/// hashes takes over: a 60,000-byte value has thousands of wrapped
/// pieces, and comparing each with all the others took most of the
/// start-up (about 90 ms a value).
struct Distinct {
    first: usize,
    /// Hash of a kept form -> its index in `out`.
    index: Option<(RandomState, HashMap<u64, usize>)>,
}

impl Distinct {
    const LINEAR: usize = 32;

    fn new(first: usize) -> Distinct {
        Distinct { first, index: None }
    }

    /// Whether `form` is not among the kept ones.
    fn is_new(&mut self, out: &[Tagged], form: &[u8]) -> bool {
        let kept = &out[self.first..];
        if self.index.is_none() && kept.len() <= Self::LINEAR {
            return !kept.iter().any(|(k, _)| k[..] == *form);
        }
        let (keys, index) = self.index.get_or_insert_with(|| {
            let keys = RandomState::new();
            let index = (self.first..out.len())
                .map(|i| (keys.hash_one(&out[i].0[..]), i))
                .collect();
            (keys, index)
        });
        match index.get(&keys.hash_one(form)) {
            None => true,
            Some(&i) if out[i].0[..] == *form => false,
            // Another form with the same hash: rare enough to compare all.
            Some(_) => !kept.iter().any(|(k, _)| k[..] == *form),
        }
    }

    /// Notes the form just pushed onto `out`.
    fn pushed(&mut self, out: &[Tagged]) {
        if let Some((keys, index)) = &mut self.index {
            let i = out.len() - 1;
            index.entry(keys.hash_one(&out[i].0[..])).or_insert(i);
        }
    }
}

/// Queues every string value of a JSON object or array (keys excluded).
fn open_json(whole: &[u8], queue: &mut Vec<Vec<u8>>) {
    if !matches!(whole.first(), Some(b'{' | b'[')) {
        return;
    }
    // serde_json's default recursion limit applies: a value nested deeper
    // fails to parse and stays plain text, as does one with text after it.
    let mut found = Vec::new();
    let mut parser = serde_json::Deserializer::from_slice(whole);
    let parsed = serde::de::DeserializeSeed::deserialize(JsonStrings(&mut found), &mut parser)
        .and_then(|()| parser.end());
    if parsed.is_ok() {
        queue.extend(found);
    }
}

/// Collects the string values of a JSON value as the parser meets them,
/// never building it: a map of serde_json keeps only the last value of a
/// repeated key (`{"password":"a","password":"b"}`), and SPEC 1.4 wants
/// every string value.
struct JsonStrings<'a>(&'a mut Vec<Vec<u8>>);

impl<'de> serde::de::DeserializeSeed<'de> for JsonStrings<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonStrings<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.push(s.as_bytes().to_vec());
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(JsonStrings(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            map.next_value_seed(JsonStrings(self.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms kept are the first of each distinct one, in order,
    /// whether they are few (compared one by one) or many (hashed).
    #[test]
    fn distinct_keeps_the_first_of_each_form_in_order() {
        for count in [0, 1, 5, Distinct::LINEAR, Distinct::LINEAR + 1, 500] {
            // Every third form repeats one seen before.
            let forms: Vec<Vec<u8>> = (0..count)
                .map(|i| if i % 3 == 2 { i / 2 } else { i })
                .map(|n| format!("form-{n}").into_bytes())
                .collect();
            let mut out: Vec<Tagged> = vec![(b"before".to_vec(), Encoding::Raw)];
            let mut kept = Distinct::new(out.len());
            for form in &forms {
                if kept.is_new(&out, form) {
                    out.push((form.clone(), Encoding::Hex));
                    kept.pushed(&out);
                }
            }
            let mut want: Vec<Vec<u8>> = Vec::new();
            for form in &forms {
                if !want.contains(form) {
                    want.push(form.clone());
                }
            }
            let got: Vec<Vec<u8>> = out[1..].iter().map(|(f, _)| f.clone()).collect();
            assert_eq!(got, want, "{count} forms");
        }
    }

    /// A value that registers nothing is refused with its true reason
    /// (SPEC 1.2's warning): too short when no line reaches the minimum,
    /// else no form in the chosen encodings.
    #[test]
    fn a_refusal_gives_its_true_reason() {
        let only = |names: &[Encoding]| {
            let mut set = EncodingSet::empty();
            names.iter().for_each(|&e| set.insert(e));
            set
        };
        let cases: &[(&[u8], usize, EncodingSet, Refusal)] = &[
            (
                b"abc",
                4,
                EncodingSet::all(),
                Refusal::TooShort { min_length: 4 },
            ),
            (
                b"ab\ncd",
                4,
                only(&[Encoding::Raw]),
                Refusal::TooShort { min_length: 4 },
            ),
            (
                b"plainvalue",
                4,
                only(&[Encoding::Shell]),
                Refusal::NoForm { floor: 4 },
            ),
            (
                b"a",
                1,
                only(&[Encoding::Hex]),
                Refusal::NoForm { floor: 4 },
            ),
            (b"  \t\n", 4, EncodingSet::all(), Refusal::Blank),
        ];
        for (value, min_length, encodings, want) in cases {
            let config = Config {
                min_length: *min_length,
                encodings: *encodings,
            };
            let got = expand(value, &config).map(|_| ());
            assert_eq!(got, Err(*want), "{:?}", String::from_utf8_lossy(value));
        }
    }

    fn origins(registry: &Registry, variant: &[u8]) -> Vec<(String, &'static str)> {
        registry
            .origins(variant)
            .into_iter()
            .map(|o| (o.source.to_string(), o.form.name()))
            .collect()
    }

    #[test]
    fn each_variant_names_every_source_once_with_its_first_form() {
        let registry = Registry::new();
        registry.add_from(b"abc def", "--secret #1").unwrap();
        registry.add_from(b"abc def", "--secret #1").unwrap();
        registry.add_from(b"abc%20def", "--env TOKEN").unwrap();
        registry.add(b"hunter22").unwrap();
        let cases: &[(&[u8], &[(&str, &str)])] = &[
            (b"abc def", &[("--secret #1", "raw")]),
            // `url` of the first value is `raw` of the second.
            (
                b"abc%20def",
                &[("--secret #1", "url"), ("--env TOKEN", "raw")],
            ),
            (b"YWJjIGRlZ", &[("--secret #1", "base64")]),
            (b"hunter22", &[("api", "raw")]),
            (b"not registered", &[]),
        ];
        for (variant, want) in cases {
            let want: Vec<(String, &str)> = want.iter().map(|(s, f)| (s.to_string(), *f)).collect();
            assert_eq!(
                origins(&registry, variant),
                want,
                "{:?}",
                String::from_utf8_lossy(variant)
            );
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_value() {
        let config = Config::default();
        let with_bom = |v: &[u8]| [BOM, v].concat();
        // Plain: the first line is the value without the mark.
        let got = expand(&with_bom(b"hunter22"), &config).unwrap();
        assert_eq!(got, expand(b"hunter22", &config).unwrap());
        // JSON saved with a mark (PowerShell 5.1 -Encoding UTF8) is opened.
        let got = expand(&with_bom(br#"{"key":"s3cr3t-v4lue"}"#), &config).unwrap();
        assert!(got.iter().any(|v| v == b"s3cr3t-v4lue"));
        // Only at the start.
        let got = expand(&[b"ab", BOM, b"cd"].concat(), &config).unwrap();
        assert!(got.contains(&[b"ab", BOM, b"cd"].concat()));
    }

    /// Hashes are chosen here, so collisions happen: each variant keeps
    /// its own index, and one seen before is found whatever collides.
    #[test]
    fn the_variant_index_tells_colliding_variants_apart() {
        let mut variants: Vec<Arc<[u8]>> = Vec::new();
        let mut index = VariantIndex::default();
        // (hash, variant, what inserting it returns: the index it has)
        let inserts: [(u64, &[u8], Option<u32>); 8] = [
            (7, b"first", None),
            (7, b"second", None),
            (7, b"first", Some(0)),
            (7, b"second", Some(1)),
            (8, b"third", None),
            (7, b"fourth", None),
            (8, b"third", Some(2)),
            (7, b"fourth", Some(3)),
        ];
        for (hash, bytes, expected) in inserts {
            let variant: Arc<[u8]> = bytes.into();
            let got = index.insert(hash, &variant, &variants);
            assert_eq!(got, expected, "insert {:?}", String::from_utf8_lossy(bytes));
            if got.is_none() {
                variants.push(variant);
            }
        }
        let gets: [(u64, &[u8], Option<u32>); 6] = [
            (7, b"first", Some(0)),
            (7, b"second", Some(1)),
            (8, b"third", Some(2)),
            (7, b"fourth", Some(3)),
            (7, b"absent", None),
            (9, b"first", None),
        ];
        for (hash, bytes, expected) in gets {
            let got = index.get(hash, bytes, &variants);
            assert_eq!(got, expected, "get {:?}", String::from_utf8_lossy(bytes));
        }
    }

    /// A staged batch is taken as the batch of exactly the variants its
    /// values added, and only then.
    #[test]
    fn a_staged_batch_is_taken_only_for_exactly_its_variants() {
        let values: [&[u8]; 3] = [
            b"first-staged-value",
            b"second-staged-value",
            b"another-value-x",
        ];
        // (values registered, in order; an extra value added after them)
        let cases: &[(&[usize], bool, bool)] = &[
            (&[0, 1], false, true),
            (&[0], false, false),
            (&[1, 0], false, false),
            (&[0, 1], true, false),
        ];
        for &(registered, extra, taken) in cases {
            let registry = Registry::new();
            // A larger batch before: the staged one is not folded into it.
            for i in 0..100 {
                registry
                    .add(format!("registered-before-{i}").as_bytes())
                    .unwrap();
            }
            let _ = registry.matcher();
            let mut staged = registry.stage(&values[..2]);
            // Counts only: no byte of a value, in any form.
            let shown = format!("{staged:?}");
            let counts = format!("Staged {{ values: 2, new_variants: {} }}", staged.new.len());
            assert_eq!(shown, counts);
            let staged_batch = staged.batch.clone().unwrap();
            for &i in registered {
                registry.add_staged(&mut staged, i, "test").unwrap();
            }
            if extra {
                registry.add(values[2]).unwrap();
            }
            registry.adopt(staged);
            let _ = registry.matcher();
            let inner = registry.lock();
            let last = &inner.batches.last().unwrap().1;
            assert_eq!(
                Arc::ptr_eq(last, &staged_batch),
                taken,
                "{registered:?} extra {extra}"
            );
            let covered: usize = inner.batches.iter().map(|(r, _)| r.len()).sum();
            assert_eq!(covered, inner.variants.len());
        }
    }

    #[test]
    fn tiered_batches_stay_few_and_cover_every_variant_once() {
        let raw = raw_only();
        // Additions one at a time, the matcher taken after each (a stream
        // refreshing between lines): at most FANOUT - 1 batches a level.
        for n in [1, 7, 8, 9, 63, 64, 65, 511, 512, 1000] {
            let registry = Registry::with_config(raw);
            for i in 0..n {
                registry.add(format!("value-{i:06}").as_bytes()).unwrap();
                let _ = registry.matcher();
            }
            let inner = registry.lock();
            let bound = (MERGE_FANOUT - 1) * (merge_level(n) as usize + 1);
            assert!(inner.batches.len() <= bound, "{n}: {}", inner.batches.len());
            let mut next = 0;
            for (range, batch) in &inner.batches {
                assert_eq!(range.start, next, "{n}: batches out of order");
                assert_eq!(batch.variants(), range.len(), "{n}");
                next = range.end;
            }
            assert_eq!(next, n, "{n}: not every variant is in a batch");
            let levels: Vec<u32> = inner
                .batches
                .iter()
                .map(|(r, _)| merge_level(r.len()))
                .collect();
            assert!(levels.windows(2).all(|w| w[0] >= w[1]), "{n}: {levels:?}");
            drop(inner);
            registry.compact();
            assert_eq!(registry.lock().batches.len(), 1, "{n}");
            assert_eq!(registry.matcher().variants(), n, "{n}");
        }
    }

    /// The default configuration with the `raw` encoding alone: one
    /// variant a value, so that tests count batches in values.
    fn raw_only() -> Config {
        Config {
            encodings: [Encoding::Raw].into_iter().collect(),
            ..Config::default()
        }
    }

    /// How `registry`'s batches cover its variants: their ranges, which
    /// must follow each other from 0, each batch holding its range.
    fn batch_ranges(registry: &Registry) -> Vec<Range<usize>> {
        let inner = registry.lock();
        let mut next = 0;
        for (range, batch) in &inner.batches {
            assert_eq!(range.start, next, "batches out of order");
            assert_eq!(batch.variants(), range.len());
            next = range.end;
        }
        inner.batches.iter().map(|(r, _)| r.clone()).collect()
    }

    /// `n` distinct random alphanumeric values of 24 bytes (distinct grams:
    /// the q-gram filter holds them all).
    fn random_values(n: usize) -> Vec<Vec<u8>> {
        let mut rng = crate::test_rng::Lcg(11);
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut seen = HashSet::new();
        let mut values = Vec::new();
        while values.len() < n {
            let value = rng.word(alnum, 24);
            if seen.insert(value.clone()) {
                values.push(value);
            }
        }
        values
    }

    /// Waits (a few seconds at most) for the generation to move on.
    fn wait_for_generation_after(registry: &Registry, generation: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while registry.generation() == generation {
            assert!(std::time::Instant::now() < deadline, "no compaction came");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// A build of SPLIT_BUILD_MIN variants or more makes two batches of
    /// halves, one less does not; the background compaction makes them
    /// one, once, and the values are all found before and after.
    #[test]
    fn a_large_build_splits_in_two_and_compacts_in_the_background() {
        let raw = raw_only();
        for (n, halves) in [(SPLIT_BUILD_MIN - 1, false), (SPLIT_BUILD_MIN, true)] {
            let registry = Arc::new(Registry::with_config(raw));
            let values = random_values(n);
            let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
            registry.add_all(&refs);
            let finds_all = |matcher: &Matcher| {
                let mut state = matcher.start();
                let hay = values.join(&b' ');
                let mut found = 0;
                matcher.probe(&mut state, &hay, 0, 0, |_, _| found += 1);
                assert_eq!(found, n, "{n}");
            };
            let matcher = registry.matcher();
            finds_all(&matcher);
            let ranges = batch_ranges(&registry);
            if !halves {
                assert_eq!(ranges, vec![(0..n)], "{n}");
                continue;
            }
            assert_eq!(ranges, [0..n / 2, n / 2..n], "{n}");
            let generation = registry.generation();
            registry.compact_in_background();
            wait_for_generation_after(&registry, generation);
            assert_eq!(batch_ranges(&registry), vec![(0..n)], "{n}");
            let compacted = registry.matcher();
            assert_eq!(compacted.batches(), 1);
            finds_all(&compacted);
            // Compacting before the first build builds one batch.
            let unbuilt = Registry::with_config(raw);
            unbuilt.add_all(&refs);
            assert!(unbuilt.compact());
            assert_eq!(batch_ranges(&unbuilt), vec![(0..n)], "{n}");
            assert!(!unbuilt.compact());
            assert_eq!(unbuilt.matcher().batches(), 1);
            // A second call changes nothing.
            let generation = registry.generation();
            registry.compact_in_background();
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(registry.generation(), generation);
        }
    }

    /// A compaction built while other variants arrive covers what was
    /// built when it started and leaves the batches after it alone; one
    /// whose batches a fold has taken meanwhile is dropped.
    #[test]
    fn a_background_compaction_replaces_only_the_batches_it_covers() {
        let raw = raw_only();
        let registry = Registry::with_config(raw);
        let n = SPLIT_BUILD_MIN;
        let values = random_values(n + 1);
        let refs: Vec<&[u8]> = values[..n].iter().map(|v| &v[..]).collect();
        registry.add_all(&refs);
        let _ = registry.matcher();
        registry.add(&values[n]).unwrap();
        let _ = registry.matcher();
        assert_eq!(batch_ranges(&registry), [0..n / 2, n / 2..n, n..n + 1]);
        let variants = registry.lock().variants[..n].to_vec();
        let generation = registry.generation();
        registry.install_merged(Arc::new(Batch::build(&variants)), 0..n);
        assert_eq!(batch_ranges(&registry), [0..n, n..n + 1]);
        assert!(registry.generation() > generation);
        assert_eq!(registry.matcher().variants(), n + 1);
        // Nothing ends where this one would: dropped.
        let generation = registry.generation();
        registry.install_merged(Arc::new(Batch::build(&variants[..n - 1])), 0..n - 1);
        assert_eq!(batch_ranges(&registry), [0..n, n..n + 1]);
        assert_eq!(registry.generation(), generation);
    }

    #[test]
    fn a_new_batch_folds_the_tiers_it_completes() {
        let eights = |n: usize, len: usize| vec![len; n];
        let cases: &[(&[usize], usize, usize)] = &[
            (&[], 1, 0),
            (&[1; 6], 1, 0),
            (&[1; 7], 1, 7),
            // Same level, too few peers.
            (&[64], 100, 0),
            // A smaller batch before the new one goes into it.
            (&[8], 64, 1),
            (&[512, 8, 8, 8, 8, 8, 8, 8], 8, 7),
            (&[512, 100, 8, 8, 8, 8, 8, 8, 8], 8, 7),
            // A completed tier completes the one above it.
            (&[&eights(7, 64)[..], &eights(7, 8)[..]].concat(), 8, 14),
        ];
        for &(lens, new, folded) in cases {
            assert_eq!(batches_to_fold(lens, new), folded, "{lens:?} + {new}");
        }
    }

    /// Waits (a few seconds at most) until no merge is running or due.
    fn wait_for_merges(registry: &Arc<Registry>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let _ = registry.stream_matcher();
            let inner = registry.lock();
            if !inner.merging && inner.merge_due.is_none() {
                return;
            }
            drop(inner);
            assert!(
                std::time::Instant::now() < deadline,
                "the merge never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// A stream's matcher leaves large folds to a thread; once each is in,
    /// the batches are those of folding in place.
    #[test]
    fn a_fold_merged_in_the_background_ends_as_one_made_in_place() {
        let raw = raw_only();
        let in_place = Registry::with_config(raw);
        let background = Arc::new(Registry::with_config(raw));
        let mut merged = 0;
        // Seven tiers of 4,800 variants (8 x 600); the eighth would fold
        // 38,400, which a build in place makes as two halves.
        for group in random_values(60 * 600).chunks(600) {
            let refs: Vec<&[u8]> = group.iter().map(|v| &v[..]).collect();
            in_place.add_all(&refs);
            background.add_all(&refs);
            let _ = in_place.matcher();
            let matcher = background.stream_matcher();
            // Running, or already in (which moved the generation on).
            let started =
                background.lock().merging || background.generation() != matcher.generation();
            merged += usize::from(started);
            wait_for_merges(&background);
            assert_eq!(background.generation() > matcher.generation(), started);
            assert_eq!(batch_ranges(&background), batch_ranges(&in_place));
        }
        assert_eq!(merged, 7);
    }

    /// A tier completed while a merge runs is merged by that merge's
    /// thread once it is done, not left behind.
    #[test]
    fn a_merge_goes_on_with_the_tier_that_filled_meanwhile() {
        let raw = raw_only();
        let registry = Arc::new(Registry::with_config(raw));
        // As if a merge ran: the builds add their batches alone.
        registry.lock().merging = true;
        for group in random_values(9 * 600).chunks(600) {
            let refs: Vec<&[u8]> = group.iter().map(|v| &v[..]).collect();
            registry.add_all(&refs);
            let _ = registry.stream_matcher();
        }
        let ranges = batch_ranges(&registry);
        assert_eq!(ranges.len(), 9);
        assert_eq!(registry.lock().tier_to_merge(), Some(0..9 * 600));
        // The first two merged (their level stays that of 600): eight of
        // one level are left, and the same thread merges them.
        registry.lock().merging = false;
        registry.merge_in_background(0..1200);
        wait_for_merges(&registry);
        assert_eq!(batch_ranges(&registry), vec![(0..9 * 600)]);
        assert_eq!(registry.lock().tier_to_merge(), None);
    }

    /// While merges run beside a stream, the batches cover every variant
    /// once and stay at most MAX_BATCHES, and every value is found.
    #[test]
    fn large_folds_are_merged_while_the_stream_searches() {
        let raw = raw_only();
        let registry = Arc::new(Registry::with_config(raw));
        let values = random_values(40 * 600);
        let mut merged_while_searching = false;
        for group in values.chunks(600) {
            let refs: Vec<&[u8]> = group.iter().map(|v| &v[..]).collect();
            registry.add_all(&refs);
            let matcher = registry.stream_matcher();
            // Running, or already in (which moved the generation on).
            merged_while_searching |=
                registry.lock().merging || registry.generation() != matcher.generation();
            let ranges = batch_ranges(&registry);
            assert_eq!(ranges.last().unwrap().end, registry.variants());
            assert!(matcher.batches() <= MAX_BATCHES, "{}", matcher.batches());
        }
        assert!(merged_while_searching, "no merge ran beside the stream");
        wait_for_merges(&registry);
        let matcher = registry.stream_matcher();
        let mut state = matcher.start();
        let hay = values.join(&b' ');
        let mut found = 0;
        matcher.probe(&mut state, &hay, 0, 0, |_, _| found += 1);
        assert_eq!(found, values.len());
    }

    #[test]
    fn a_variant_that_many_sources_register_keeps_each_source_once() {
        // Past ORIGINS_SEARCHED origins a variant's labels are looked up
        // in a set: each source must still be listed once, in the order
        // it first came, however often it comes again.
        let registry = Registry::new();
        let labels: Vec<String> = (0..40).map(|n| format!("--file list:{n}")).collect();
        for round in 0..3 {
            for label in labels.iter().skip(round * 5) {
                registry.add_from(b"shared-value-1234", label).unwrap();
            }
        }
        let origins = registry.origins(b"shared-value-1234");
        let sources: Vec<&str> = origins.iter().map(|o| &*o.source).collect();
        assert_eq!(sources, labels);
    }

    #[test]
    fn labels_are_stored_once_and_origins_cost_a_word_a_variant() {
        let registry = Registry::new();
        for n in 0..100 {
            registry
                .add_from(format!("value-{n:04}").as_bytes(), "--file list:1")
                .unwrap();
        }
        let inner = registry.lock();
        assert_eq!(inner.labels.len(), 1);
        assert_eq!(inner.origins.len(), inner.variants.len());
        assert!(inner.more_origins.is_empty());
    }
}
