//! [`FPGrowth`] (estimator) and [`FPGrowthModel`] (frequent itemsets, association rules and
//! basket recommendations), with Spark MLlib's parameters and semantics.

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use ml_core::dataset::{field_of, schema_with_field};
use ml_core::{impl_params, Dataset, Estimator, MlError, Result, Transformer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encode::{canonical_list, canonical_list_type, encode, FxMap, ItemVocab};
use crate::order::sorted_order;
use crate::tree::{mine_items, GlobalTree, ItemsetBuf, MineLimits};

/// FP-growth frequent itemset mining (Han et al. 2000), as Spark MLlib's `FPGrowth`.
///
/// Fits on a column of baskets (`List<Utf8>` or `List<Int*>`, one basket per row) and returns an
/// [`FPGrowthModel`] holding every itemset whose support (fraction of baskets containing it) is
/// at least `min_support`; the model derives association rules and recommends items.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, ListArray};
/// use arrow::datatypes::Int64Type;
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_fpm::FPGrowth;
///
/// let baskets = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
///     Some(vec![Some(1), Some(2), Some(5)]),
///     Some(vec![Some(1), Some(2), Some(3), Some(5)]),
///     Some(vec![Some(1), Some(2)]),
/// ]);
/// let data = Dataset::from_columns(vec![("items", Arc::new(baskets) as ArrayRef)]).unwrap();
/// let model = FPGrowth::new().with_min_support(0.5).with_min_confidence(0.6).fit(&data).unwrap();
/// // {1}, {2}, {5}, {1,2}, {1,5}, {2,5}, {1,2,5}
/// assert_eq!(model.num_itemsets(), 7);
/// let rules = model.association_rules().unwrap();
/// assert_eq!(rules.num_rows(), 9);
/// let out = model.transform(&data).unwrap();
/// assert!(out.has_column("prediction"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FPGrowth {
    /// Basket column: a list of strings or integers per row.
    pub items_col: String,
    /// Minimum support of a frequent itemset, as a fraction of the baskets, in (0, 1].
    /// An itemset is frequent when it occurs in at least `ceil(min_support * n)` baskets.
    pub min_support: f64,
    /// Minimum confidence of an association rule, in [0, 1].
    pub min_confidence: f64,
    /// Output column of [`FPGrowthModel::transform`].
    pub prediction_col: String,
    /// Threads for fitting (`None`: rayon's global pool). Spark's `numPartitions` is an alias.
    pub n_threads: Option<usize>,
    /// Drop repeated items within a basket instead of failing (Spark fails).
    pub dedup_items: bool,
    /// Longest itemset mined, in items (mlxtend's `max_len`); `None` (the default): no limit.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Most frequent itemsets a fit (or [`FPGrowth::stream_itemsets`]) may produce, default
    /// [`DEFAULT_MAX_ITEMSETS`]. A basket of `k` frequent items holds `2^k - 1` itemsets, so a
    /// tiny `min_support` or a long basket can ask for more itemsets than memory holds; going
    /// over this limit stops the mining early with an [`MlError::InvalidParam`] naming
    /// `max_itemsets` (raise it, raise `min_support` or set `max_len`).
    #[serde(default = "default_max_itemsets")]
    pub max_itemsets: usize,
}

/// The default [`FPGrowth::max_itemsets`]: ten million itemsets, a few hundred MB.
pub const DEFAULT_MAX_ITEMSETS: usize = 10_000_000;

fn default_max_itemsets() -> usize {
    DEFAULT_MAX_ITEMSETS
}

impl Default for FPGrowth {
    fn default() -> Self {
        FPGrowth {
            items_col: "items".into(),
            min_support: 0.3,
            min_confidence: 0.8,
            prediction_col: "prediction".into(),
            n_threads: None,
            dedup_items: false,
            max_len: None,
            max_itemsets: DEFAULT_MAX_ITEMSETS,
        }
    }
}

fn validate(p: &FPGrowth) -> Result<()> {
    if !(p.min_support > 0.0 && p.min_support <= 1.0) {
        return Err(MlError::param(
            "min_support",
            format!("must be in (0, 1], got {}", p.min_support),
        ));
    }
    if !(0.0..=1.0).contains(&p.min_confidence) {
        return Err(MlError::param(
            "min_confidence",
            format!("must be in [0, 1], got {}", p.min_confidence),
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
    if p.max_len == Some(0) {
        return Err(MlError::param(
            "max_len",
            "must be at least 1 (or unset: no limit), got 0",
        ));
    }
    if p.max_itemsets == 0 {
        return Err(MlError::param("max_itemsets", "must be at least 1, got 0"));
    }
    if p.items_col.is_empty() || p.prediction_col.is_empty() {
        return Err(MlError::param(
            "items_col",
            "column names must not be empty",
        ));
    }
    Ok(())
}

impl_params!(FPGrowth {
    items_col: "Basket column (List<Utf8> or List<Int64>).",
    min_support: "Minimum support of a frequent itemset, a fraction of baskets in (0, 1].",
    min_confidence: "Minimum confidence of an association rule, in [0, 1].",
    prediction_col: "Output column of the model's recommendations.",
    n_threads: "Threads used to fit (none: rayon's global pool).",
    dedup_items: "Drop repeated items in a basket instead of failing.",
    max_len: "Longest itemset mined, in items (mlxtend's max_len; unset: no limit).",
    max_itemsets: "Most frequent itemsets a fit may produce (default 10,000,000); more is an error naming this parameter.",
} aliases { "num_partitions" => n_threads } validate = validate);

/// Runs `f` on `n` threads, or in the current pool when `n` is `None`
/// ([`ml_core::threads::install`]).
pub(crate) fn in_pool<T: Send>(n: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    ml_core::threads::install(n.unwrap_or(0), f)
}

/// Timings of the phases of a fit, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FitTimings {
    /// Checking, counting and recoding baskets to ranks.
    pub encode_s: f64,
    /// Sorting the transactions and building the FP tree.
    pub tree_s: f64,
    /// Mining the tree.
    pub mine_s: f64,
}

impl FPGrowth {
    /// Spark's defaults: `items`, min support 0.3, min confidence 0.8, `prediction`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the basket column.
    pub fn with_items_col(mut self, c: &str) -> Self {
        self.items_col = c.into();
        self
    }
    /// Sets the minimum support (fraction of baskets).
    pub fn with_min_support(mut self, s: f64) -> Self {
        self.min_support = s;
        self
    }
    /// Sets the minimum confidence of rules.
    pub fn with_min_confidence(mut self, c: f64) -> Self {
        self.min_confidence = c;
        self
    }
    /// Sets the prediction column.
    pub fn with_prediction_col(mut self, c: &str) -> Self {
        self.prediction_col = c.into();
        self
    }
    /// Sets the number of threads.
    pub fn with_n_threads(mut self, n: usize) -> Self {
        self.n_threads = Some(n);
        self
    }
    /// Drops repeated items in a basket instead of failing.
    pub fn with_dedup_items(mut self, d: bool) -> Self {
        self.dedup_items = d;
        self
    }
    /// Mines itemsets of at most `n` items (mlxtend's `max_len`).
    pub fn with_max_len(mut self, n: usize) -> Self {
        self.max_len = Some(n);
        self
    }
    /// Sets the most frequent itemsets a fit may produce.
    pub fn with_max_itemsets(mut self, n: usize) -> Self {
        self.max_itemsets = n;
        self
    }

    /// The mining bounds of this estimator.
    fn limits(&self) -> MineLimits {
        MineLimits::new(self.max_len, self.max_itemsets as u64)
    }

    /// The error of a run that went over `max_itemsets`.
    fn too_many_itemsets(&self, prep: &Prepared) -> MlError {
        MlError::param(
            "max_itemsets",
            format!(
                "more than {} frequent itemsets at min_support {} (an itemset in at least {} of \
                 {} baskets); raise max_itemsets, raise min_support or set max_len",
                self.max_itemsets, self.min_support, prep.min_count, prep.num_transactions
            ),
        )
    }

    fn prepare(&self, data: &Dataset) -> Result<(Prepared, FitTimings)> {
        validate(self)?;
        let col = data.column(&self.items_col)?.clone();
        let t0 = std::time::Instant::now();
        let (enc, min_count) = encode(&self.items_col, &col, self.min_support, self.dedup_items)?;
        let t1 = std::time::Instant::now();
        let parallel = self.n_threads != Some(1);
        let order = sorted_order(&enc.tx, parallel);
        let parts = if parallel {
            rayon::current_num_threads()
        } else {
            1
        };
        let sorted = enc.tx.permuted(&order);
        drop(order);
        drop(enc.tx);
        let tree = GlobalTree::from_sorted(sorted, &enc.support, parts);
        let t2 = std::time::Instant::now();
        Ok((
            Prepared {
                vocab: enc.vocab,
                support: enc.support,
                num_transactions: enc.num_transactions,
                num_distinct: enc.num_distinct,
                tree,
                min_count,
            },
            FitTimings {
                encode_s: (t1 - t0).as_secs_f64(),
                tree_s: (t2 - t1).as_secs_f64(),
                mine_s: 0.0,
            },
        ))
    }

    /// Fits and also returns the time spent in each phase.
    pub fn fit_timed(&self, data: &Dataset) -> Result<(FPGrowthModel, FitTimings)> {
        validate(self)?;
        in_pool(self.n_threads, || {
            let (prep, mut timings) = self.prepare(data)?;
            let t = std::time::Instant::now();
            let items: Vec<usize> = (0..prep.support.len()).collect();
            let limits = self.limits();
            let found = mine_items(
                &prep.tree,
                &items,
                prep.min_count,
                self.n_threads != Some(1),
                &limits,
            );
            if limits.exceeded() {
                return Err(self.too_many_itemsets(&prep));
            }
            timings.mine_s = t.elapsed().as_secs_f64();
            let model = FPGrowthModel {
                items_col: self.items_col.clone(),
                prediction_col: self.prediction_col.clone(),
                min_confidence: self.min_confidence,
                min_support: self.min_support,
                num_transactions: prep.num_transactions as u64,
                num_distinct_items: prep.num_distinct as u64,
                vocab: prep.vocab,
                item_support: prep.support,
                itemset_offsets: found.offsets,
                itemset_items: found.items,
                itemset_freq: found.support,
                rules: OnceLock::new(),
            };
            Ok((model, timings))
        })?
    }

    /// Mines without keeping the itemsets: they are handed to `sink` as datasets of at most about
    /// `batch_size` rows (`items`, `freq`), in the same order as [`FPGrowthModel::freq_itemsets`].
    /// Memory is bounded by the FP tree and one batch, not by the number of itemsets.
    /// Returns the number of itemsets. `max_len` and `max_itemsets` apply as in a fit: going
    /// over `max_itemsets` is an error after the batches already handed to `sink`.
    pub fn stream_itemsets(
        &self,
        data: &Dataset,
        batch_size: usize,
        mut sink: impl FnMut(Dataset) -> Result<()> + Send,
    ) -> Result<u64> {
        validate(self)?;
        let batch_size = batch_size.max(1);
        in_pool(self.n_threads, || {
            let (prep, _) = self.prepare(data)?;
            let parallel = self.n_threads != Some(1);
            let group = rayon::current_num_threads().max(1) * 4;
            let n_items = prep.support.len();
            let mut pending = ItemsetBuf::new();
            let mut total = 0u64;
            let mut start = 0;
            let limits = self.limits();
            while start < n_items {
                let end = (start + group).min(n_items);
                let items: Vec<usize> = (start..end).collect();
                let found = mine_items(&prep.tree, &items, prep.min_count, parallel, &limits);
                if limits.exceeded() {
                    return Err(self.too_many_itemsets(&prep));
                }
                pending.append(&found);
                if pending.len() >= batch_size || end == n_items {
                    total += pending.len() as u64;
                    sink(itemsets_dataset(&prep.vocab, &pending)?)?;
                    pending = ItemsetBuf::new();
                }
                start = end;
            }
            Ok(total)
        })?
    }
}

struct Prepared {
    vocab: ItemVocab,
    support: Vec<u32>,
    num_transactions: usize,
    num_distinct: usize,
    tree: GlobalTree,
    min_count: u32,
}

fn itemsets_dataset(vocab: &ItemVocab, buf: &ItemsetBuf) -> Result<Dataset> {
    let items = vocab.list_array(&buf.offsets, &buf.items)?;
    let freq = Int64Array::from_iter_values(buf.support.iter().map(|&s| s as i64));
    Dataset::from_fields(
        vec![
            Field::new("items", vocab.list_type(), false),
            Field::new("freq", DataType::Int64, false),
        ],
        vec![items, Arc::new(freq)],
    )
}

impl Estimator for FPGrowth {
    type Model = FPGrowthModel;
    fn fit(&self, data: &Dataset) -> Result<FPGrowthModel> {
        self.fit_timed(data).map(|(m, _)| m)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        validate(self)?;
        output_schema(schema, &self.items_col, &self.prediction_col)
    }
}

fn output_schema(schema: &Schema, items_col: &str, prediction_col: &str) -> Result<Schema> {
    let f = field_of(schema, items_col)?;
    let canonical = canonical_list_type(items_col, f.data_type())?;
    schema_with_field(schema, Field::new(prediction_col, canonical, false))
}

/// Association rules with a single consequent, flat (see [`FPGrowthModel::association_rules`]).
#[derive(Debug, Clone, Default)]
struct RuleSet {
    min_confidence: f64,
    ant_offsets: Vec<usize>,
    ant_items: Vec<u32>,
    consequent: Vec<u32>,
    confidence: Vec<f64>,
    lift: Vec<f64>,
    support: Vec<f64>,
}

/// A fitted FP-growth model: the frequent itemsets with their counts, the association rules
/// derived from them, and recommendations for baskets.
///
/// Itemsets list their items by descending item frequency. Saved and loaded with
/// [`ml_core::persist`] (JSON: parameters, the item vocabulary and the itemsets as flat arrays).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FPGrowthModel {
    /// Basket column read by [`Transformer::transform`].
    pub items_col: String,
    /// Column written by [`Transformer::transform`].
    pub prediction_col: String,
    /// Minimum confidence of the rules used by `association_rules` and `transform`.
    pub min_confidence: f64,
    /// The minimum support the model was fitted with.
    pub min_support: f64,
    num_transactions: u64,
    #[serde(default)]
    num_distinct_items: u64,
    vocab: ItemVocab,
    item_support: Vec<u32>,
    itemset_offsets: Vec<usize>,
    itemset_items: Vec<u32>,
    itemset_freq: Vec<u32>,
    #[serde(skip)]
    rules: OnceLock<Arc<RuleSet>>,
}

impl Default for FPGrowthModel {
    fn default() -> Self {
        let p = FPGrowth::default();
        FPGrowthModel {
            items_col: p.items_col,
            prediction_col: p.prediction_col,
            min_confidence: p.min_confidence,
            min_support: p.min_support,
            num_transactions: 0,
            num_distinct_items: 0,
            vocab: ItemVocab::Int(Vec::new()),
            item_support: Vec::new(),
            itemset_offsets: vec![0],
            itemset_items: Vec::new(),
            itemset_freq: Vec::new(),
            rules: OnceLock::new(),
        }
    }
}

fn validate_model(m: &FPGrowthModel) -> Result<()> {
    if !(0.0..=1.0).contains(&m.min_confidence) {
        return Err(MlError::param(
            "min_confidence",
            format!("must be in [0, 1], got {}", m.min_confidence),
        ));
    }
    Ok(())
}

impl_params!(FPGrowthModel {
    items_col: "Basket column read by transform.",
    prediction_col: "Output column of transform.",
    min_confidence: "Minimum confidence of the rules used (in [0, 1]).",
} validate = validate_model);

impl FPGrowthModel {
    /// Number of baskets the model was fitted on.
    pub fn num_transactions(&self) -> u64 {
        self.num_transactions
    }

    /// Number of distinct items in the baskets the model was fitted on (frequent or not).
    pub fn num_distinct_items(&self) -> u64 {
        self.num_distinct_items
    }

    /// Number of frequent itemsets.
    pub fn num_itemsets(&self) -> usize {
        self.itemset_freq.len()
    }

    /// Number of frequent single items.
    pub fn num_items(&self) -> usize {
        self.vocab.len()
    }

    /// The frequent items, most frequent first.
    pub fn vocabulary(&self) -> &ItemVocab {
        &self.vocab
    }

    /// The frequent itemsets: columns `items` (list) and `freq` (Int64, number of baskets).
    pub fn freq_itemsets(&self) -> Result<Dataset> {
        let buf = ItemsetBuf {
            offsets: self.itemset_offsets.clone(),
            items: self.itemset_items.clone(),
            support: self.itemset_freq.clone(),
        };
        itemsets_dataset(&self.vocab, &buf)
    }

    /// Iterates over `(item ranks, freq)`; ranks index [`FPGrowthModel::vocabulary`].
    pub fn itemsets(&self) -> impl Iterator<Item = (&[u32], u64)> + '_ {
        (0..self.itemset_freq.len()).map(move |k| {
            (
                &self.itemset_items[self.itemset_offsets[k]..self.itemset_offsets[k + 1]],
                self.itemset_freq[k] as u64,
            )
        })
    }

    /// Number of association rules with confidence >= `min_confidence`.
    pub fn num_rules(&self) -> usize {
        self.rules().consequent.len()
    }

    fn rules(&self) -> Arc<RuleSet> {
        if let Some(r) = self.rules.get() {
            if r.min_confidence == self.min_confidence {
                return r.clone();
            }
            return Arc::new(self.compute_rules());
        }
        self.rules
            .get_or_init(|| Arc::new(self.compute_rules()))
            .clone()
    }

    /// Every rule `X => {y}` with `X ∪ {y}` frequent and confidence `freq(X ∪ {y}) / freq(X)`
    /// at least `min_confidence` (Spark's definition; lift = confidence / support(y)).
    fn compute_rules(&self) -> RuleSet {
        let k_total = self.itemset_freq.len();
        let mut index: FxMap<&[u32], u32> = FxMap::default();
        index.reserve(k_total);
        for k in 0..k_total {
            let s = &self.itemset_items[self.itemset_offsets[k]..self.itemset_offsets[k + 1]];
            if s.len() < 16 {
                index.insert(s, self.itemset_freq[k]);
            }
        }
        let n = self.num_transactions as f64;
        let min_conf = self.min_confidence;
        let chunk = 4096;
        let starts: Vec<usize> = (0..k_total).step_by(chunk).collect();
        let parts: Vec<RuleSet> = starts
            .par_iter()
            .map(|&s| {
                let mut r = RuleSet {
                    ant_offsets: vec![0],
                    ..Default::default()
                };
                let mut ant: Vec<u32> = Vec::new();
                for k in s..(s + chunk).min(k_total) {
                    let set =
                        &self.itemset_items[self.itemset_offsets[k]..self.itemset_offsets[k + 1]];
                    if set.len() < 2 {
                        continue;
                    }
                    let freq = self.itemset_freq[k] as f64;
                    for j in 0..set.len() {
                        ant.clear();
                        ant.extend_from_slice(&set[..j]);
                        ant.extend_from_slice(&set[j + 1..]);
                        let fa = if ant.len() == 1 {
                            Some(self.item_support[ant[0] as usize])
                        } else {
                            index.get(&ant[..]).copied()
                        };
                        let fa = match fa {
                            Some(f) => f as f64,
                            None => self.subset_freq_slow(&ant) as f64,
                        };
                        let conf = freq / fa;
                        if conf >= min_conf {
                            let y = set[j];
                            r.ant_items.extend_from_slice(&ant);
                            r.ant_offsets.push(r.ant_items.len());
                            r.consequent.push(y);
                            r.confidence.push(conf);
                            r.lift
                                .push(conf / (self.item_support[y as usize] as f64 / n));
                            r.support.push(freq / n);
                        }
                    }
                }
                r
            })
            .collect();
        let mut out = RuleSet {
            min_confidence: min_conf,
            ant_offsets: vec![0],
            ..Default::default()
        };
        for p in parts {
            let base = out.ant_items.len();
            out.ant_items.extend_from_slice(&p.ant_items);
            out.ant_offsets
                .extend(p.ant_offsets[1..].iter().map(|&o| o + base));
            out.consequent.extend_from_slice(&p.consequent);
            out.confidence.extend_from_slice(&p.confidence);
            out.lift.extend_from_slice(&p.lift);
            out.support.extend_from_slice(&p.support);
        }
        out
    }

    /// Frequency of an itemset not in the index (itemsets of 16+ items): a linear scan.
    fn subset_freq_slow(&self, set: &[u32]) -> u32 {
        self.itemsets()
            .find(|(s, _)| *s == set)
            .map(|(_, f)| f as u32)
            .unwrap_or(0)
    }

    /// The association rules with confidence >= `min_confidence`: columns `antecedent` (list),
    /// `consequent` (list of one item), `confidence`, `lift` and `support` (Float64), as Spark's
    /// `associationRules`.
    pub fn association_rules(&self) -> Result<Dataset> {
        let r = self.rules();
        let ant = self.vocab.list_array(&r.ant_offsets, &r.ant_items)?;
        let cons_offsets: Vec<usize> = (0..=r.consequent.len()).collect();
        let cons = self.vocab.list_array(&cons_offsets, &r.consequent)?;
        Dataset::from_fields(
            vec![
                Field::new("antecedent", self.vocab.list_type(), false),
                Field::new("consequent", self.vocab.list_type(), false),
                Field::new("confidence", DataType::Float64, false),
                Field::new("lift", DataType::Float64, false),
                Field::new("support", DataType::Float64, false),
            ],
            vec![
                ant,
                cons,
                Arc::new(Float64Array::from(r.confidence.clone())),
                Arc::new(Float64Array::from(r.lift.clone())),
                Arc::new(Float64Array::from(r.support.clone())),
            ],
        )
    }

    /// Ranks of the items of each basket (items not in the vocabulary dropped); `None` for a null
    /// basket.
    fn basket_ranks(&self, column: &ArrayRef) -> Result<Vec<Option<Vec<u32>>>> {
        let list = canonical_list(&self.items_col, column)?;
        let mut out = Vec::with_capacity(list.len());
        match (&self.vocab, list.value_type()) {
            (ItemVocab::Int(v), DataType::Int64) => {
                let map: FxMap<i64, u32> =
                    v.iter().enumerate().map(|(r, &x)| (x, r as u32)).collect();
                for row in 0..list.len() {
                    if list.is_null(row) {
                        out.push(None);
                        continue;
                    }
                    let a = list.value(row);
                    let a = a.as_primitive::<Int64Type>();
                    out.push(Some(
                        a.iter()
                            .flatten()
                            .filter_map(|x| map.get(&x).copied())
                            .collect(),
                    ));
                }
            }
            (ItemVocab::Str(v), DataType::Utf8) => {
                let map: FxMap<&str, u32> = v
                    .iter()
                    .enumerate()
                    .map(|(r, x)| (x.as_str(), r as u32))
                    .collect();
                for row in 0..list.len() {
                    if list.is_null(row) {
                        out.push(None);
                        continue;
                    }
                    let a = list.value(row);
                    let a = a.as_string::<i32>();
                    out.push(Some(
                        a.iter()
                            .flatten()
                            .filter_map(|x| map.get(x).copied())
                            .collect(),
                    ));
                }
            }
            (vocab, found) => {
                return Err(MlError::ColumnType {
                    column: self.items_col.clone(),
                    expected: format!("{}", vocab.list_type()),
                    found: format!("List<{found}>"),
                })
            }
        }
        Ok(out)
    }
}

#[typetag::serde(name = "FPGrowthModel")]
impl Transformer for FPGrowthModel {
    /// Valid parameters, unique items with one support each, and itemsets that are well-formed
    /// runs of known items (offsets from 0, increasing, ending at the item count).
    fn validate_structure(&self) -> Result<()> {
        validate_model(self)?;
        let bad = |message: String| Err(MlError::data(format!("FPGrowthModel: {message}")));
        let n_items = self.vocab.len();
        if self.item_support.len() != n_items {
            return bad(format!(
                "{n_items} frequent items but {} supports",
                self.item_support.len()
            ));
        }
        let unique = match &self.vocab {
            ItemVocab::Str(v) => v.iter().collect::<std::collections::HashSet<_>>().len(),
            ItemVocab::Int(v) => v.iter().collect::<std::collections::HashSet<_>>().len(),
        };
        if unique != n_items {
            return bad("an item is listed twice in the vocabulary".into());
        }
        let offsets = &self.itemset_offsets;
        if offsets.len() != self.itemset_freq.len() + 1
            || offsets.first() != Some(&0)
            || offsets.last() != Some(&self.itemset_items.len())
            || offsets.windows(2).any(|w| w[0] >= w[1])
        {
            return bad(format!(
                "itemset offsets do not delimit {} non-empty itemsets of {} items",
                self.itemset_freq.len(),
                self.itemset_items.len()
            ));
        }
        if let Some(r) = self.itemset_items.iter().find(|&&r| r as usize >= n_items) {
            return bad(format!(
                "itemset item {r} is out of range ({n_items} frequent items)"
            ));
        }
        Ok(())
    }

    /// Adds `prediction_col`: for each basket, the consequents of the rules whose antecedent the
    /// basket contains, minus the items already in it, in rule order without repeats (Spark's
    /// rule). A null basket gets an empty list.
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        self.transform_schema(&data.schema())?;
        let rules = self.rules();
        let n_items = self.vocab.len();
        // Rules indexed by the least frequent item of their antecedent.
        let mut by_item: Vec<Vec<u32>> = vec![Vec::new(); n_items];
        for k in 0..rules.consequent.len() {
            let ant = &rules.ant_items[rules.ant_offsets[k]..rules.ant_offsets[k + 1]];
            if let Some(&last) = ant.last() {
                by_item[last as usize].push(k as u32);
            }
        }
        let baskets = self.basket_ranks(data.column(&self.items_col)?)?;
        let mut offsets = vec![0usize];
        let mut items: Vec<u32> = Vec::new();
        let mut in_basket = vec![false; n_items];
        let mut taken = vec![false; n_items];
        let mut matched: Vec<u32> = Vec::new();
        for b in &baskets {
            if let Some(b) = b {
                for &r in b {
                    in_basket[r as usize] = true;
                }
                matched.clear();
                for &r in b {
                    for &k in &by_item[r as usize] {
                        let k = k as usize;
                        let ant = &rules.ant_items[rules.ant_offsets[k]..rules.ant_offsets[k + 1]];
                        if !in_basket[rules.consequent[k] as usize]
                            && ant.iter().all(|&a| in_basket[a as usize])
                        {
                            matched.push(k as u32);
                        }
                    }
                }
                matched.sort_unstable();
                for &k in &matched {
                    let y = rules.consequent[k as usize];
                    if !taken[y as usize] {
                        taken[y as usize] = true;
                        items.push(y);
                    }
                }
                for &y in &items[*offsets.last().expect("offset")..] {
                    taken[y as usize] = false;
                }
                for &r in b {
                    in_basket[r as usize] = false;
                }
            }
            offsets.push(items.len());
        }
        let col = self.vocab.list_array(&offsets, &items)?;
        data.with_field(
            Field::new(&self.prediction_col, self.vocab.list_type(), false),
            col,
        )
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let f = field_of(schema, &self.items_col)?;
        let canonical = canonical_list_type(&self.items_col, f.data_type())?;
        if canonical != self.vocab.list_type() && !self.vocab.is_empty() {
            return Err(MlError::ColumnType {
                column: self.items_col.clone(),
                expected: format!("{}", self.vocab.list_type()),
                found: format!("{}", f.data_type()),
            });
        }
        schema_with_field(
            schema,
            Field::new(&self.prediction_col, self.vocab.list_type(), false),
        )
    }
}

/// Brute-force reference used by tests: every itemset with count >= `min_count`, by enumerating
/// all subsets of each basket (small data only). Returns sorted (items, count) pairs.
#[cfg(test)]
pub(crate) fn brute_force(baskets: &[Vec<i64>], min_count: u64) -> Vec<(Vec<i64>, u64)> {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<Vec<i64>, u64> = BTreeMap::new();
    for b in baskets {
        let mut b = b.clone();
        b.sort_unstable();
        b.dedup();
        assert!(b.len() < 20);
        for mask in 1u32..(1 << b.len()) {
            let s: Vec<i64> = (0..b.len())
                .filter(|k| mask >> k & 1 == 1)
                .map(|k| b[k])
                .collect();
            *counts.entry(s).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, c)| *c >= min_count)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::ListArray;
    use ml_core::Params;

    fn int_baskets(b: &[Vec<i64>]) -> Dataset {
        let arr = ListArray::from_iter_primitive::<Int64Type, _, _>(
            b.iter()
                .map(|v| Some(v.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
        );
        Dataset::from_columns(vec![("items", Arc::new(arr) as ArrayRef)]).unwrap()
    }

    fn mined(model: &FPGrowthModel) -> Vec<(Vec<i64>, u64)> {
        let ItemVocab::Int(v) = model.vocabulary() else {
            panic!("int vocab")
        };
        let mut out: Vec<(Vec<i64>, u64)> = model
            .itemsets()
            .map(|(s, f)| {
                let mut s: Vec<i64> = s.iter().map(|&r| v[r as usize]).collect();
                s.sort_unstable();
                (s, f)
            })
            .collect();
        out.sort();
        out
    }

    /// Deterministic pseudo-random baskets with skewed item popularity and planted groups.
    fn random_baskets(seed: u64, n: usize, n_items: i64, max_len: usize) -> Vec<Vec<i64>> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = 1 + (next() % max_len as u64) as usize;
                let mut b: Vec<i64> = Vec::new();
                if next() % 3 == 0 {
                    b.extend([100, 101, 102]);
                }
                while b.len() < len {
                    // Skewed: min of two uniforms favours small ids.
                    let x = (next() % n_items as u64).min(next() % n_items as u64) as i64;
                    if !b.contains(&x) {
                        b.push(x);
                    }
                }
                b
            })
            .collect()
    }

    #[test]
    fn itemsets_match_brute_force_on_random_data_at_any_thread_count() {
        for (seed, n, items, len, supp) in [
            (1u64, 200usize, 12i64, 8usize, 0.05f64),
            (2, 500, 20, 10, 0.02),
            (3, 50, 8, 8, 0.01),
            (4, 300, 15, 12, 0.1),
        ] {
            let b = random_baskets(seed, n, items, len);
            let data = int_baskets(&b);
            let min_count = (supp * n as f64).ceil() as u64;
            let expected = brute_force(&b, min_count);
            for threads in [1, 2, 3] {
                let model = FPGrowth::new()
                    .with_min_support(supp)
                    .with_n_threads(threads)
                    .fit(&data)
                    .unwrap();
                assert_eq!(mined(&model), expected, "seed {seed} threads {threads}");
            }
            // Same output, same order, at any thread count.
            let one = FPGrowth::new().with_min_support(supp).with_n_threads(1);
            let two = one.clone().with_n_threads(2);
            let a = one.fit(&data).unwrap();
            let c = two.fit(&data).unwrap();
            assert_eq!(a.itemset_items, c.itemset_items);
            assert_eq!(a.itemset_freq, c.itemset_freq);
        }
    }

    #[test]
    fn rules_match_definitions_computed_by_brute_force() {
        let b = random_baskets(7, 400, 14, 9);
        let data = int_baskets(&b);
        let model = FPGrowth::new()
            .with_min_support(0.05)
            .with_min_confidence(0.3)
            .fit(&data)
            .unwrap();
        let freq: std::collections::HashMap<Vec<i64>, u64> =
            brute_force(&b, 1).into_iter().collect();
        let rules = model.association_rules().unwrap();
        let ant = rules.column("antecedent").unwrap().as_list::<i32>().clone();
        let cons = rules.column("consequent").unwrap().as_list::<i32>().clone();
        let conf = rules.f64_column("confidence").unwrap();
        let lift = rules.f64_column("lift").unwrap();
        let sup = rules.f64_column("support").unwrap();
        let n = b.len() as f64;
        let mut expected_count = 0;
        for (set, &f) in &freq {
            if set.len() < 2 || f < 20 {
                continue;
            }
            for y in set {
                let a: Vec<i64> = set.iter().copied().filter(|x| x != y).collect();
                if f as f64 / freq[&a] as f64 >= 0.3 {
                    expected_count += 1;
                }
            }
        }
        assert_eq!(rules.num_rows(), expected_count);
        assert!(expected_count > 10);
        for k in 0..rules.num_rows() {
            let mut a: Vec<i64> = ant.value(k).as_primitive::<Int64Type>().values().to_vec();
            a.sort_unstable();
            let y = cons.value(k).as_primitive::<Int64Type>().value(0);
            let mut all = a.clone();
            all.push(y);
            all.sort_unstable();
            let c = freq[&all] as f64 / freq[&a] as f64;
            assert!((conf.value(k) - c).abs() < 1e-12);
            assert!((lift.value(k) - c / (freq[&vec![y]] as f64 / n)).abs() < 1e-9);
            assert!((sup.value(k) - freq[&all] as f64 / n).abs() < 1e-12);
        }
    }

    #[test]
    fn transform_recommends_consequents_not_in_basket_as_spark() {
        // Spark's FPGrowth docs example: items "1 2 5", "1 2 3 5", "1 2", minSupport 0.5,
        // minConfidence 0.6; transform gives [1,2] -> [5], [1,2,5] -> [], [1,2,3,5] -> [],
        // [1] -> [2, 5] (in some order), [] -> [].
        let data = int_baskets(&[vec![1, 2, 5], vec![1, 2, 3, 5], vec![1, 2]]);
        let model = FPGrowth::new()
            .with_min_support(0.5)
            .with_min_confidence(0.6)
            .fit(&data)
            .unwrap();
        assert_eq!(model.num_itemsets(), 7);
        let test = int_baskets(&[vec![1, 2], vec![1, 2, 5], vec![1], vec![], vec![7]]);
        let out = model.transform(&test).unwrap();
        let pred = out.column("prediction").unwrap().as_list::<i32>().clone();
        let row = |k: usize| {
            let mut v = pred.value(k).as_primitive::<Int64Type>().values().to_vec();
            v.sort_unstable();
            v
        };
        assert_eq!(row(0), vec![5]);
        assert_eq!(row(1), Vec::<i64>::new());
        assert_eq!(row(2), vec![2, 5]);
        assert_eq!(row(3), Vec::<i64>::new());
        assert_eq!(row(4), Vec::<i64>::new());
    }

    #[test]
    fn bad_input_gives_typed_errors() {
        // Null basket.
        let arr =
            ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)]), None]);
        let data = Dataset::from_columns(vec![("items", Arc::new(arr) as ArrayRef)]).unwrap();
        let e = FPGrowth::new().fit(&data).unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e}");
        // Repeated item: error by default, de-duplicated on request.
        let data = int_baskets(&[vec![1, 2], vec![3, 1, 3]]);
        let e = FPGrowth::new().fit(&data).unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e}");
        assert!(e.to_string().contains("3 is repeated"), "{e}");
        let m = FPGrowth::new()
            .with_min_support(0.6)
            .with_dedup_items(true)
            .fit(&data)
            .unwrap();
        assert_eq!(mined(&m), vec![(vec![1], 2)]);
        // Empty dataset.
        let e = FPGrowth::new().fit(&int_baskets(&[])).unwrap_err();
        assert!(matches!(e, MlError::InvalidData(_)), "{e}");
        // min_support outside (0, 1].
        for s in [0.0, -0.1, 1.5, f64::NAN] {
            let e = FPGrowth::new().with_min_support(s).fit(&data).unwrap_err();
            assert!(matches!(e, MlError::InvalidParam { ref param, .. } if param == "min_support"));
        }
        let mut p = FPGrowth::new();
        assert!(p.set_param("minSupport", 2.0.into()).is_err());
        p.set_param("numPartitions", 2usize.into()).unwrap();
        assert_eq!(p.n_threads, Some(2));
        // Wrong column type.
        let data = Dataset::from_columns(vec![(
            "items",
            Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
        )])
        .unwrap();
        let e = FPGrowth::new().fit(&data).unwrap_err();
        assert!(matches!(e, MlError::ColumnType { .. }), "{e}");
    }

    #[test]
    fn string_items_save_load_and_stream() {
        use arrow::array::{ListBuilder, StringBuilder};
        let mut b = ListBuilder::new(StringBuilder::new());
        for basket in [
            vec!["milk", "bread"],
            vec!["milk", "eggs", "bread"],
            vec!["eggs"],
            vec!["milk", "bread", "jam"],
        ] {
            for x in basket {
                b.values().append_value(x);
            }
            b.append(true);
        }
        let data =
            Dataset::from_columns(vec![("items", Arc::new(b.finish()) as ArrayRef)]).unwrap();
        let model = FPGrowth::new()
            .with_min_support(0.5)
            .with_min_confidence(0.9)
            .fit(&data)
            .unwrap();
        // {milk} 3, {bread} 3, {eggs} 2, {milk, bread} 3.
        assert_eq!(model.num_itemsets(), 4);
        assert_eq!(model.num_rules(), 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fp.json");
        ml_core::persist::save(&model, &path).unwrap();
        let back: FPGrowthModel = ml_core::persist::load_as(&path).unwrap();
        let a = model.transform(&data).unwrap();
        let c = back.transform(&data).unwrap();
        assert_eq!(a.batch(), c.batch());
        assert_eq!(
            back.freq_itemsets().unwrap().batch(),
            model.freq_itemsets().unwrap().batch()
        );
        let mut streamed = Vec::new();
        let total = FPGrowth::new()
            .with_min_support(0.5)
            .stream_itemsets(&data, 1, |d| {
                streamed.push(d);
                Ok(())
            })
            .unwrap();
        assert_eq!(total, 4);
        let all = Dataset::concat(&streamed).unwrap();
        assert_eq!(all.batch(), model.freq_itemsets().unwrap().batch());

        // A corrupted file is an error naming the file and the fault, not a panic later.
        let good: serde_json::Value =
            serde_json::from_str(&ml_core::persist::to_json(&model).unwrap()).unwrap();
        type Corrupt = fn(&mut serde_json::Value);
        let cases: [(Corrupt, &str); 4] = [
            (
                |m| m["item_support"] = serde_json::json!([3]),
                "3 frequent items but 1 supports",
            ),
            (
                |m| m["vocab"] = serde_json::json!({"Str": ["milk", "bread", "milk"]}),
                "an item is listed twice",
            ),
            (
                |m| m["itemset_offsets"] = serde_json::json!([0, 1, 2, 3, 3]),
                "itemset offsets do not delimit 4 non-empty itemsets of 5 items",
            ),
            (
                |m| m["itemset_items"][0] = serde_json::json!(7),
                "itemset item 7 is out of range (3 frequent items)",
            ),
        ];
        for (corrupt, expected) in cases {
            let mut doc = good.clone();
            corrupt(&mut doc["model"]);
            let e = ml_core::persist::from_json(&doc.to_string(), std::path::Path::new("fp.json"))
                .unwrap_err();
            assert!(
                matches!(e, MlError::Persistence { ref message, .. } if message.contains(expected)),
                "expected '{expected}' in: {e}"
            );
        }
    }
}
