//! [`PrefixSpan`]: frequent sequential patterns (Pei et al. 2001), as Spark MLlib's `PrefixSpan`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Int64Type};
use ml_core::{impl_params, Dataset, MlError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encode::{FxMap, ItemVocab};
use crate::fpgrowth::in_pool;

/// Finds frequent sequential patterns in a column of sequences of itemsets
/// (`List<List<Utf8>>` or `List<List<Int*>>`).
///
/// A pattern `<X1 X2 ... Xk>` (itemsets) is contained in a sequence `<S1 ... Sm>` when there are
/// positions `i1 < i2 < ... < ik` with `Xj ⊆ S_ij`; its support is the number of sequences
/// containing it. Patterns with support at least `ceil(min_support * n)` and at most
/// `max_pattern_length` items are returned. Items repeated within an itemset count once and
/// empty itemsets are ignored, as in Spark.
///
/// `max_local_proj_db_size` plays the role it has in Spark: a projected database larger than
/// this many items is explored in parallel (its extensions are independent tasks), a smaller one
/// sequentially. The output is the same whatever the thread count.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, ListArray, ListBuilder, Int64Builder};
/// use ml_core::Dataset;
/// use ml_fpm::PrefixSpan;
///
/// // Spark's documentation example.
/// let mut b = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
/// for seq in [vec![vec![1, 2], vec![3]], vec![vec![1], vec![3, 2], vec![1, 2]],
///             vec![vec![1, 2], vec![5]], vec![vec![6]]] {
///     for set in seq {
///         for x in set { b.values().values().append_value(x); }
///         b.values().append(true);
///     }
///     b.append(true);
/// }
/// let data = Dataset::from_columns(vec![("sequence", Arc::new(b.finish()) as ArrayRef)]).unwrap();
/// let patterns = PrefixSpan::new().with_min_support(0.5).with_max_pattern_length(5)
///     .find_frequent_sequential_patterns(&data).unwrap();
/// // [[1]] 3, [[2]] 3, [[3]] 2, [[1, 2]] 3, [[1], [3]] 2
/// assert_eq!(patterns.num_rows(), 5);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrefixSpan {
    /// Sequence column: a list of itemsets (lists of strings or integers) per row.
    pub sequence_col: String,
    /// Minimum support of a pattern, a fraction of the sequences in (0, 1].
    pub min_support: f64,
    /// Maximum number of items in a pattern (>= 1).
    pub max_pattern_length: usize,
    /// Projected databases with more items than this are explored in parallel.
    pub max_local_proj_db_size: usize,
    /// Threads (`None`: rayon's global pool).
    pub n_threads: Option<usize>,
    /// Most patterns mined before the run stops with an [`MlError::InvalidParam`] naming
    /// `max_patterns` (raise it, raise `min_support` or lower `max_pattern_length`); default
    /// [`DEFAULT_MAX_PATTERNS`]. One sequence of 40 distinct items holds over a billion
    /// patterns of at most 10 items, so without a limit a tiny file could exhaust memory.
    #[serde(default = "default_max_patterns")]
    pub max_patterns: usize,
}

/// The default of [`PrefixSpan::max_patterns`] (as FP-growth's `max_itemsets`).
pub const DEFAULT_MAX_PATTERNS: usize = 10_000_000;

fn default_max_patterns() -> usize {
    DEFAULT_MAX_PATTERNS
}

impl Default for PrefixSpan {
    fn default() -> Self {
        PrefixSpan {
            sequence_col: "sequence".into(),
            min_support: 0.1,
            max_pattern_length: 10,
            max_local_proj_db_size: 32_000_000,
            n_threads: None,
            max_patterns: DEFAULT_MAX_PATTERNS,
        }
    }
}

fn validate(p: &PrefixSpan) -> Result<()> {
    if !(p.min_support > 0.0 && p.min_support <= 1.0) {
        return Err(MlError::param(
            "min_support",
            format!("must be in (0, 1], got {}", p.min_support),
        ));
    }
    if p.max_pattern_length == 0 {
        return Err(MlError::param("max_pattern_length", "must be at least 1"));
    }
    if p.max_patterns == 0 {
        return Err(MlError::param("max_patterns", "must be at least 1, got 0"));
    }
    if p.max_local_proj_db_size == 0 {
        return Err(MlError::param(
            "max_local_proj_db_size",
            "must be at least 1",
        ));
    }
    if p.n_threads == Some(0) {
        return Err(MlError::param(
            "n_threads",
            format!(
                "must be in [1, {}] (unset = the current pool), got 0",
                ml_core::threads::MAX_THREADS
            ),
        ));
    }
    ml_core::threads::check_n_threads("n_threads", p.n_threads.unwrap_or(0))?;
    Ok(())
}

impl_params!(PrefixSpan {
    sequence_col: "Sequence column (list of lists of strings or integers).",
    min_support: "Minimum support of a pattern, a fraction of sequences in (0, 1].",
    max_pattern_length: "Maximum number of items in a pattern.",
    max_local_proj_db_size: "Projected databases larger than this (items) are explored in parallel.",
    n_threads: "Threads (none: rayon's global pool).",
    max_patterns: "Most patterns mined before the run stops with an error naming this limit.",
} validate = validate);

/// A projected sequence (Spark's `Postfix`): the sequence `items` (0-delimited itemsets of
/// item ids + 1), the start of the remaining part and the positions right after each match of
/// the prefix's last itemset inside an itemset (where itemset extensions may continue).
#[derive(Clone)]
struct Postfix {
    seq: u32,
    start: u32,
    partial: Vec<u32>,
}

/// Pattern items: `(item id + 1, is an itemset extension)`.
type Ext = (u32, bool);

struct Miner<'a> {
    seqs: &'a [Vec<u32>],
    min_count: u64,
    max_len: usize,
    par_threshold: usize,
    /// Patterns found so far (over all threads), and the limit past which mining stops.
    found: std::sync::atomic::AtomicUsize,
    max_patterns: usize,
}

/// Output: patterns flattened, one `Vec<Ext>` per pattern, with its count.
type Found = Vec<(Vec<Ext>, u64)>;

impl Miner<'_> {
    fn full_start(items: &[u32], start: usize) -> usize {
        let mut i = start;
        while items[i] != 0 {
            i += 1;
        }
        i
    }

    /// Frequent extensions of a projected database, sorted.
    fn extensions(&self, db: &[Postfix]) -> Vec<(Ext, u64)> {
        let mut counts: FxMap<Ext, u64> = FxMap::default();
        let mut seen: Vec<Ext> = Vec::new();
        for p in db {
            let items = &self.seqs[p.seq as usize];
            seen.clear();
            for &s in &p.partial {
                let mut i = s as usize;
                while items[i] != 0 {
                    seen.push((items[i], true));
                    i += 1;
                }
            }
            let n1 = items.len() - 1;
            for &x in &items[Self::full_start(items, p.start as usize)..n1] {
                if x != 0 {
                    seen.push((x, false));
                }
            }
            seen.sort_unstable();
            seen.dedup();
            for &e in &seen {
                *counts.entry(e).or_default() += 1;
            }
        }
        let mut out: Vec<(Ext, u64)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= self.min_count)
            .collect();
        // Itemset extensions first, then by item.
        out.sort_unstable_by_key(|&((x, partial), _)| (!partial, x));
        out
    }

    fn project(&self, db: &[Postfix], (target, partial): Ext) -> Vec<Postfix> {
        let mut out = Vec::new();
        for p in db {
            let items = &self.seqs[p.seq as usize];
            let n1 = items.len() - 1;
            let mut matched = false;
            let mut new_start = n1;
            let mut new_partial = Vec::new();
            if partial {
                for &s in &p.partial {
                    let mut i = s as usize;
                    while items[i] != target && items[i] != 0 {
                        i += 1;
                    }
                    if items[i] == target {
                        i += 1;
                        if !matched {
                            new_start = i;
                            matched = true;
                        }
                        if items[i] != 0 {
                            new_partial.push(i as u32);
                        }
                    }
                }
            } else {
                for i in Self::full_start(items, p.start as usize)..n1 {
                    if items[i] == target {
                        if !matched {
                            new_start = i;
                            matched = true;
                        }
                        if items[i + 1] != 0 {
                            new_partial.push(i as u32 + 1);
                        }
                    }
                }
            }
            if matched {
                out.push(Postfix {
                    seq: p.seq,
                    start: new_start as u32,
                    partial: new_partial,
                });
            }
        }
        out
    }

    fn db_size(&self, db: &[Postfix]) -> usize {
        db.iter()
            .map(|p| self.seqs[p.seq as usize].len() - p.start as usize)
            .sum()
    }

    /// Counts `n` more patterns; false once the total is past the limit (mining then stops:
    /// whether it does depends only on the total, not on the order threads find them).
    fn count(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.found.fetch_add(n, Ordering::Relaxed) + n <= self.max_patterns
    }

    fn over_limit(&self) -> bool {
        self.found.load(std::sync::atomic::Ordering::Relaxed) > self.max_patterns
    }

    fn grow(&self, prefix: &mut Vec<Ext>, db: &[Postfix], out: &mut Found) {
        if self.over_limit() {
            return;
        }
        let exts = self.extensions(db);
        if !self.count(exts.len()) {
            return;
        }
        if prefix.len() + 1 == self.max_len || self.db_size(db) <= self.par_threshold {
            for (e, c) in exts {
                prefix.push(e);
                out.push((prefix.clone(), c));
                if prefix.len() < self.max_len {
                    let next = self.project(db, e);
                    self.grow(prefix, &next, out);
                }
                prefix.pop();
            }
        } else {
            let parts: Vec<Found> = exts
                .par_iter()
                .map(|&(e, c)| {
                    let mut prefix = prefix.clone();
                    prefix.push(e);
                    let mut found = vec![(prefix.clone(), c)];
                    let next = self.project(db, e);
                    self.grow(&mut prefix, &next, &mut found);
                    found
                })
                .collect();
            out.extend(parts.into_iter().flatten());
        }
    }
}

/// Interned items of the sequences.
enum Keys {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl PrefixSpan {
    /// Spark's defaults: `sequence`, min support 0.1, max pattern length 10, max local projected
    /// database size 32,000,000.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the sequence column.
    pub fn with_sequence_col(mut self, c: &str) -> Self {
        self.sequence_col = c.into();
        self
    }
    /// Sets the minimum support (fraction of sequences).
    pub fn with_min_support(mut self, s: f64) -> Self {
        self.min_support = s;
        self
    }
    /// Sets the maximum number of items in a pattern.
    pub fn with_max_pattern_length(mut self, n: usize) -> Self {
        self.max_pattern_length = n;
        self
    }
    /// Sets the projected-database size above which extensions are explored in parallel.
    pub fn with_max_local_proj_db_size(mut self, n: usize) -> Self {
        self.max_local_proj_db_size = n;
        self
    }
    /// Stops with an error past `n` patterns (`max_patterns`).
    pub fn with_max_patterns(mut self, n: usize) -> Self {
        self.max_patterns = n;
        self
    }

    /// Sets the number of threads.
    pub fn with_n_threads(mut self, n: usize) -> Self {
        self.n_threads = Some(n);
        self
    }

    /// The frequent sequential patterns: columns `sequence` (list of lists of items, each itemset
    /// sorted by item frequency rank) and `freq` (Int64), as Spark's
    /// `findFrequentSequentialPatterns`.
    pub fn find_frequent_sequential_patterns(&self, data: &Dataset) -> Result<Dataset> {
        validate(self)?;
        let col = &self.sequence_col;
        let outer = data.column(col)?;
        let outer = match outer.data_type() {
            DataType::List(f) if matches!(f.data_type(), DataType::List(_)) => {
                outer.as_list::<i32>().clone()
            }
            other => {
                return Err(MlError::ColumnType {
                    column: col.clone(),
                    expected: "a list of itemsets (List<List<Utf8>> or List<List<Int64>>)".into(),
                    found: format!("{other}"),
                })
            }
        };
        let n = outer.len();
        if n == 0 {
            return Err(MlError::data(format!(
                "column '{col}' has no rows: PrefixSpan needs at least one sequence"
            )));
        }
        let inner = outer.values().as_list::<i32>().clone();
        let inner_values =
            crate::encode::canonical_list(col, &(Arc::new(inner.clone()) as ArrayRef))?;
        // Intern items; `seq_items[row]` = list of itemsets of dense ids.
        let mut keys_int: FxMap<i64, u32> = FxMap::default();
        let mut keys_str: FxMap<String, u32> = FxMap::default();
        let vals = inner_values.values();
        let is_str = vals.data_type() == &DataType::Utf8;
        let mut keys = if is_str {
            Keys::Str(Vec::new())
        } else {
            Keys::Int(Vec::new())
        };
        let mut seqs_raw: Vec<Vec<Vec<u32>>> = Vec::with_capacity(n);
        let outer_offs = outer.value_offsets();
        let inner_offs = inner_values.value_offsets();
        for row in 0..n {
            if outer.is_null(row) {
                return Err(MlError::value(
                    col,
                    row,
                    "null sequence; drop null sequences first",
                ));
            }
            let mut seq = Vec::new();
            for s in outer_offs[row] as usize..outer_offs[row + 1] as usize {
                if inner_values.is_null(s) {
                    return Err(MlError::value(col, row, "sequence holds a null itemset"));
                }
                let mut set = Vec::new();
                for k in inner_offs[s] as usize..inner_offs[s + 1] as usize {
                    if vals.is_null(k) {
                        return Err(MlError::value(col, row, "itemset holds a null item"));
                    }
                    let id = match &mut keys {
                        Keys::Str(names) => {
                            let x = vals.as_string::<i32>().value(k);
                            match keys_str.get(x) {
                                Some(&id) => id,
                                None => {
                                    names.push(x.to_string());
                                    let id = (names.len() - 1) as u32;
                                    keys_str.insert(x.to_string(), id);
                                    id
                                }
                            }
                        }
                        Keys::Int(ints) => {
                            let x = vals.as_primitive::<Int64Type>().value(k);
                            *keys_int.entry(x).or_insert_with(|| {
                                ints.push(x);
                                (ints.len() - 1) as u32
                            })
                        }
                    };
                    set.push(id);
                }
                set.sort_unstable();
                set.dedup();
                if !set.is_empty() {
                    seq.push(set);
                }
            }
            seqs_raw.push(seq);
        }
        let n_keys = match &keys {
            Keys::Int(k) => k.len(),
            Keys::Str(k) => k.len(),
        };
        // Item support (number of sequences containing the item).
        let mut counts = vec![0u64; n_keys];
        let mut last_seen = vec![u32::MAX; n_keys];
        for (row, seq) in seqs_raw.iter().enumerate() {
            for set in seq {
                for &x in set {
                    if last_seen[x as usize] != row as u32 {
                        last_seen[x as usize] = row as u32;
                        counts[x as usize] += 1;
                    }
                }
            }
        }
        let min_count = ((self.min_support * n as f64).ceil() as u64).max(1);
        let mut frequent: Vec<u32> = (0..n_keys as u32)
            .filter(|&k| counts[k as usize] >= min_count)
            .collect();
        match &keys {
            Keys::Int(k) => frequent.sort_by(|&a, &b| {
                counts[b as usize]
                    .cmp(&counts[a as usize])
                    .then(k[a as usize].cmp(&k[b as usize]))
            }),
            Keys::Str(k) => frequent.sort_by(|&a, &b| {
                counts[b as usize]
                    .cmp(&counts[a as usize])
                    .then(k[a as usize].cmp(&k[b as usize]))
            }),
        }
        let mut rank = vec![u32::MAX; n_keys];
        for (r, &k) in frequent.iter().enumerate() {
            rank[k as usize] = r as u32;
        }
        let vocab = match &keys {
            Keys::Int(k) => ItemVocab::Int(frequent.iter().map(|&x| k[x as usize]).collect()),
            Keys::Str(k) => {
                ItemVocab::Str(frequent.iter().map(|&x| k[x as usize].clone()).collect())
            }
        };
        // Encode: [0, a, b, 0, c, 0] with items = rank + 1, sorted within itemsets.
        let seqs: Vec<Vec<u32>> = seqs_raw
            .iter()
            .map(|seq| {
                let mut out = vec![0u32];
                for set in seq {
                    let mut s: Vec<u32> = set
                        .iter()
                        .map(|&x| rank[x as usize])
                        .filter(|&r| r != u32::MAX)
                        .map(|r| r + 1)
                        .collect();
                    if s.is_empty() {
                        continue;
                    }
                    s.sort_unstable();
                    out.extend_from_slice(&s);
                    out.push(0);
                }
                out
            })
            .collect();
        drop(seqs_raw);
        let miner = Miner {
            seqs: &seqs,
            min_count,
            max_len: self.max_pattern_length,
            par_threshold: self.max_local_proj_db_size,
            found: std::sync::atomic::AtomicUsize::new(0),
            max_patterns: self.max_patterns,
        };
        let db: Vec<Postfix> = (0..seqs.len() as u32)
            .filter(|&s| seqs[s as usize].len() > 1)
            .map(|seq| Postfix {
                seq,
                start: 0,
                partial: Vec::new(),
            })
            .collect();
        let found = in_pool(self.n_threads, || {
            let mut out = Found::new();
            miner.grow(&mut Vec::new(), &db, &mut out);
            out
        })?;
        if miner.over_limit() {
            return Err(MlError::param(
                "max_patterns",
                format!(
                    "more than {} frequent sequential patterns at min_support {} ({} \
                     sequences); raise max_patterns, raise min_support or lower \
                     max_pattern_length",
                    self.max_patterns, self.min_support, n
                ),
            ));
        }
        patterns_dataset(&vocab, &found)
    }
}

fn patterns_dataset(vocab: &ItemVocab, found: &Found) -> Result<Dataset> {
    // Outer offsets count itemsets per pattern; inner offsets count items per itemset.
    let mut outer: Vec<i32> = vec![0];
    let mut inner: Vec<usize> = vec![0];
    let mut ranks: Vec<u32> = Vec::new();
    for (pattern, _) in found {
        for &(x, partial) in pattern {
            ranks.push(x - 1);
            if partial {
                *inner.last_mut().expect("offsets") = ranks.len();
            } else {
                inner.push(ranks.len());
            }
        }
        outer.push((inner.len() - 1) as i32);
    }
    let itemsets = vocab.list_array(&inner, &ranks)?;
    let field = Arc::new(Field::new("item", vocab.list_type(), true));
    let seq = ListArray::try_new(field, OffsetBuffer::new(outer.into()), itemsets, None)?;
    let freq = Int64Array::from_iter_values(found.iter().map(|(_, c)| *c as i64));
    Dataset::from_fields(
        vec![
            Field::new("sequence", seq.data_type().clone(), false),
            Field::new("freq", DataType::Int64, false),
        ],
        vec![Arc::new(seq), Arc::new(freq)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Builder, ListBuilder};

    fn dataset(seqs: &[Vec<Vec<i64>>]) -> Dataset {
        let mut b = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
        for seq in seqs {
            for set in seq {
                for &x in set {
                    b.values().values().append_value(x);
                }
                b.values().append(true);
            }
            b.append(true);
        }
        Dataset::from_columns(vec![("sequence", Arc::new(b.finish()) as ArrayRef)]).unwrap()
    }

    fn patterns(d: &Dataset) -> Vec<(Vec<Vec<i64>>, i64)> {
        let seq = d.column("sequence").unwrap().as_list::<i32>().clone();
        let freq = d.i64_column("freq").unwrap();
        let mut out: Vec<(Vec<Vec<i64>>, i64)> = (0..d.num_rows())
            .map(|k| {
                let sets = seq.value(k);
                let sets = sets.as_list::<i32>();
                let p = (0..sets.len())
                    .map(|j| {
                        let mut v = sets.value(j).as_primitive::<Int64Type>().values().to_vec();
                        v.sort_unstable();
                        v
                    })
                    .collect();
                (p, freq.value(k))
            })
            .collect();
        out.sort();
        out
    }

    fn contains(seq: &[Vec<i64>], pat: &[Vec<i64>]) -> bool {
        let mut pos = 0;
        for set in pat {
            loop {
                if pos >= seq.len() {
                    return false;
                }
                pos += 1;
                if set.iter().all(|x| seq[pos - 1].contains(x)) {
                    break;
                }
            }
        }
        true
    }

    /// Every pattern over `alphabet` with at most `max_len` items, counted by direct containment.
    fn brute_force(
        seqs: &[Vec<Vec<i64>>],
        alphabet: &[i64],
        max_len: usize,
        min_count: i64,
    ) -> Vec<(Vec<Vec<i64>>, i64)> {
        let mut out = Vec::new();
        let mut stack: Vec<Vec<Vec<i64>>> = vec![vec![]];
        while let Some(p) = stack.pop() {
            let len: usize = p.iter().map(|s| s.len()).sum();
            if !p.is_empty() {
                let c = seqs.iter().filter(|s| contains(s, &p)).count() as i64;
                if c < min_count {
                    continue; // anti-monotone: no extension can be frequent
                }
                out.push((p.clone(), c));
            }
            if len == max_len {
                continue;
            }
            for &x in alphabet {
                let mut q = p.clone();
                q.push(vec![x]);
                stack.push(q);
                if let Some(last) = p.last() {
                    if x > *last.last().unwrap() {
                        let mut q = p.clone();
                        q.last_mut().unwrap().push(x);
                        stack.push(q);
                    }
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn spark_documentation_example() {
        let d = dataset(&[
            vec![vec![1, 2], vec![3]],
            vec![vec![1], vec![3, 2], vec![1, 2]],
            vec![vec![1, 2], vec![5]],
            vec![vec![6]],
        ]);
        let p = PrefixSpan::new()
            .with_min_support(0.5)
            .with_max_pattern_length(5)
            .find_frequent_sequential_patterns(&d)
            .unwrap();
        // Spark 4 docs: [[3]] 2, [[2]] 3, [[1]] 3, [[1, 2]] 3, [[1], [3]] 2.
        assert_eq!(
            patterns(&p),
            vec![
                (vec![vec![1]], 3),
                (vec![vec![1], vec![3]], 2),
                (vec![vec![1, 2]], 3),
                (vec![vec![2]], 3),
                (vec![vec![3]], 2),
            ]
        );
    }

    #[test]
    fn patterns_match_brute_force_at_any_thread_count() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let seqs: Vec<Vec<Vec<i64>>> = (0..60)
            .map(|_| {
                (0..1 + next(5))
                    .map(|_| {
                        let mut s: Vec<i64> = (0..1 + next(3)).map(|_| next(5) as i64).collect();
                        s.sort_unstable();
                        s.dedup();
                        s
                    })
                    .collect()
            })
            .collect();
        let d = dataset(&seqs);
        for (supp, max_len) in [(0.1, 4), (0.05, 3), (0.3, 10)] {
            let min_count = (supp * seqs.len() as f64).ceil() as i64;
            let expected = brute_force(&seqs, &[0, 1, 2, 3, 4], max_len, min_count);
            assert!(expected.len() > 10);
            for (threads, local) in [(1, 32_000_000), (2, 1), (3, 50)] {
                let p = PrefixSpan::new()
                    .with_min_support(supp)
                    .with_max_pattern_length(max_len)
                    .with_max_local_proj_db_size(local)
                    .with_n_threads(threads)
                    .find_frequent_sequential_patterns(&d)
                    .unwrap();
                assert_eq!(patterns(&p), expected, "supp {supp} threads {threads}");
            }
        }
    }

    #[test]
    fn a_sequence_of_forty_items_stops_at_max_patterns_not_out_of_memory() {
        // One sequence of 40 one-item itemsets: every subsequence is frequent, over a billion
        // of at most 10 items.
        let one: Vec<Vec<i64>> = (1..=40).map(|i| vec![i]).collect();
        let data = dataset(&[one]);
        for threads in [1, 2] {
            let e = PrefixSpan::new()
                .with_min_support(1.0)
                .with_max_patterns(100_000)
                .with_max_local_proj_db_size(8)
                .with_n_threads(threads)
                .find_frequent_sequential_patterns(&data)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("'max_patterns'") && e.contains("max_pattern_length"),
                "{e}"
            );
        }
        // Patterns of at most 2 items: 40 + 780 (ordered pairs i < j in sequence order).
        let two = PrefixSpan::new()
            .with_min_support(1.0)
            .with_max_pattern_length(2);
        assert_eq!(
            two.find_frequent_sequential_patterns(&data)
                .unwrap()
                .num_rows(),
            820
        );
        // The limit is exact: 820 is allowed at 820, refused at 819, at any thread count.
        for threads in [1, 2] {
            let at = |limit| {
                two.clone()
                    .with_max_patterns(limit)
                    .with_max_local_proj_db_size(8)
                    .with_n_threads(threads)
                    .find_frequent_sequential_patterns(&data)
            };
            assert_eq!(at(820).unwrap().num_rows(), 820);
            assert!(at(819).unwrap_err().to_string().contains("max_patterns"));
        }
        assert!(PrefixSpan::new()
            .with_max_patterns(0)
            .find_frequent_sequential_patterns(&data)
            .is_err());
    }

    #[test]
    fn bad_input_gives_typed_errors() {
        let d = dataset(&[]);
        let e = PrefixSpan::new()
            .find_frequent_sequential_patterns(&d)
            .unwrap_err();
        assert!(matches!(e, MlError::InvalidData(_)));
        let d = dataset(&[vec![vec![1]]]);
        let e = PrefixSpan::new()
            .with_min_support(0.0)
            .find_frequent_sequential_patterns(&d)
            .unwrap_err();
        assert!(matches!(e, MlError::InvalidParam { .. }));
        let e = PrefixSpan::new()
            .with_sequence_col("nope")
            .find_frequent_sequential_patterns(&d)
            .unwrap_err();
        assert!(matches!(e, MlError::ColumnNotFound { .. }));
    }
}
