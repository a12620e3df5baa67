//! Turning a list column of baskets into dense item ranks (descending frequency) and sorted
//! transactions, with the input checks (null basket, null item, repeated item).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type};
use ml_core::{MlError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tree::Transactions;

/// HashMap with ml-core's fast deterministic hasher.
pub(crate) type FxMap<K, V> = ml_core::hash::FxHashMap<K, V>;

/// The values of the frequent items, indexed by rank (rank 0 = most frequent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ItemVocab {
    /// String items (from a `List<Utf8>` column).
    Str(Vec<String>),
    /// Integer items (from a `List<Int*>` column, kept as Int64).
    Int(Vec<i64>),
}

impl ItemVocab {
    /// Number of frequent items.
    pub fn len(&self) -> usize {
        match self {
            ItemVocab::Str(v) => v.len(),
            ItemVocab::Int(v) => v.len(),
        }
    }

    /// True when there are no frequent items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Arrow type of one item.
    pub fn item_type(&self) -> DataType {
        match self {
            ItemVocab::Str(_) => DataType::Utf8,
            ItemVocab::Int(_) => DataType::Int64,
        }
    }

    /// The Arrow list type of an itemset column.
    pub fn list_type(&self) -> DataType {
        DataType::List(Arc::new(Field::new("item", self.item_type(), true)))
    }

    /// Builds a list column from CSR rank lists.
    pub(crate) fn list_array(&self, offsets: &[usize], ranks: &[u32]) -> Result<ArrayRef> {
        let values: ArrayRef = match self {
            ItemVocab::Str(v) => Arc::new(StringArray::from_iter_values(
                ranks.iter().map(|&r| v[r as usize].as_str()),
            )),
            ItemVocab::Int(v) => Arc::new(Int64Array::from_iter_values(
                ranks.iter().map(|&r| v[r as usize]),
            )),
        };
        let offs: Vec<i32> = offsets
            .iter()
            .map(|&o| {
                i32::try_from(o).map_err(|_| MlError::data("itemset list exceeds 2^31 values"))
            })
            .collect::<Result<_>>()?;
        let field = Arc::new(Field::new("item", self.item_type(), true));
        Ok(Arc::new(ListArray::try_new(
            field,
            arrow::buffer::OffsetBuffer::new(offs.into()),
            values,
            None,
        )?))
    }
}

/// Accepted item types and the canonical list type a column is cast to.
pub(crate) fn canonical_list_type(column: &str, dt: &DataType) -> Result<DataType> {
    let inner = match dt {
        DataType::List(f) | DataType::LargeList(f) => f.data_type().clone(),
        other => {
            return Err(MlError::ColumnType {
                column: column.into(),
                expected: "a list of strings or integers (List<Utf8> or List<Int64>)".into(),
                found: format!("{other}"),
            })
        }
    };
    let item = match inner {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => DataType::Int64,
        other => {
            return Err(MlError::ColumnType {
                column: column.into(),
                expected: "a list of strings or integers (List<Utf8> or List<Int64>)".into(),
                found: format!("List<{other}>"),
            })
        }
    };
    Ok(DataType::List(Arc::new(Field::new("item", item, true))))
}

/// Casts a basket column to `List<Utf8>` or `List<Int64>`.
pub(crate) fn canonical_list(column: &str, array: &ArrayRef) -> Result<ListArray> {
    let target = canonical_list_type(column, array.data_type())?;
    let cast = if array.data_type() == &target {
        array.clone()
    } else {
        arrow::compute::cast(array, &target)?
    };
    Ok(cast.as_list::<i32>().clone())
}

/// Baskets recoded to ranks, ready for the FP tree.
pub(crate) struct Encoded {
    pub vocab: ItemVocab,
    /// Support of each rank.
    pub support: Vec<u32>,
    pub tx: Transactions,
    pub num_transactions: usize,
    /// Number of distinct items in the baskets (frequent or not).
    pub num_distinct: usize,
}

/// Row ranges processed by one parallel task.
fn row_chunks(n: usize) -> Vec<(usize, usize)> {
    let chunk = 16_384.max(n / 256);
    (0..n)
        .step_by(chunk)
        .map(|s| (s, (s + chunk).min(n)))
        .collect()
}

/// Dense ids of every value, plus the id -> key table.
enum Keys {
    Int(Vec<i64>),
    Str(Vec<String>),
}

fn dense_ids(column: &str, list: &ListArray) -> Result<(Vec<u32>, Keys)> {
    let values = list.values();
    let start = list.value_offsets()[0] as usize;
    let end = list.value_offsets()[list.len()] as usize;
    let values = values.slice(start, end - start);
    // Null items.
    if values.null_count() > 0 {
        let offs = list.value_offsets();
        for row in 0..list.len() {
            if list.is_valid(row) {
                for k in offs[row] as usize..offs[row + 1] as usize {
                    if values.is_null(k - start) {
                        return Err(MlError::value(
                            column,
                            row,
                            "basket holds a null item; drop nulls before fitting",
                        ));
                    }
                }
            }
        }
    }
    match values.data_type() {
        DataType::Int64 => {
            let v = values.as_primitive::<Int64Type>().values();
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for &x in v.iter() {
                lo = lo.min(x);
                hi = hi.max(x);
            }
            let span = (hi as i128) - (lo as i128);
            if !v.is_empty() && span < (4 * v.len() as i128 + (1 << 20)).min(u32::MAX as i128) {
                let ids: Vec<u32> = v.par_iter().map(|&x| (x - lo) as u32).collect();
                let keys = (0..=span as i64).map(|d| lo + d).collect();
                Ok((ids, Keys::Int(keys)))
            } else {
                let mut map: FxMap<i64, u32> = FxMap::default();
                let mut keys = Vec::new();
                let ids = v
                    .iter()
                    .map(|&x| {
                        *map.entry(x).or_insert_with(|| {
                            keys.push(x);
                            (keys.len() - 1) as u32
                        })
                    })
                    .collect();
                Ok((ids, Keys::Int(keys)))
            }
        }
        DataType::Utf8 => {
            let s = values.as_string::<i32>();
            let mut map: FxMap<&str, u32> = FxMap::default();
            let mut keys: Vec<String> = Vec::new();
            let ids = (0..s.len())
                .map(|k| {
                    let x = s.value(k);
                    *map.entry(x).or_insert_with(|| {
                        keys.push(x.to_string());
                        (keys.len() - 1) as u32
                    })
                })
                .collect();
            Ok((ids, Keys::Str(keys)))
        }
        other => Err(MlError::ColumnType {
            column: column.into(),
            expected: "List<Utf8> or List<Int64>".into(),
            found: format!("List<{other}>"),
        }),
    }
}

/// Reads, checks and recodes the baskets. `min_support` is a fraction of the number of rows.
pub(crate) fn encode(
    column: &str,
    array: &ArrayRef,
    min_support: f64,
    dedup: bool,
) -> Result<(Encoded, u32)> {
    let list = canonical_list(column, array)?;
    let n = list.len();
    if n == 0 {
        return Err(MlError::data(format!(
            "column '{column}' has no rows: FP-growth needs at least one basket"
        )));
    }
    if n > u32::MAX as usize {
        return Err(MlError::data("more than 2^32 - 1 baskets"));
    }
    if list.null_count() > 0 {
        let row = (0..n).find(|&r| list.is_null(r)).unwrap_or(0);
        return Err(MlError::value(
            column,
            row,
            "null basket; drop or replace null baskets before fitting",
        ));
    }
    let min_count = ((min_support * n as f64).ceil() as u64).max(1);
    let min_count = u32::try_from(min_count).unwrap_or(u32::MAX);
    let (ids, keys) = dense_ids(column, &list)?;
    let n_keys = match &keys {
        Keys::Int(k) => k.len(),
        Keys::Str(k) => k.len(),
    };
    let base = list.value_offsets()[0] as usize;
    let offs: Vec<usize> = list
        .value_offsets()
        .iter()
        .map(|&o| o as usize - base)
        .collect();
    let chunks = row_chunks(n);

    // Pass 1: per-basket duplicate check and item counts.
    let dup_error = |row: usize| -> MlError {
        let basket = &ids[offs[row]..offs[row + 1]];
        let dup = basket
            .iter()
            .enumerate()
            .find(|(k, x)| basket[..*k].contains(x))
            .map(|(_, &x)| x)
            .unwrap_or(0);
        let name = match &keys {
            Keys::Int(k) => k[dup as usize].to_string(),
            Keys::Str(k) => format!("'{}'", k[dup as usize]),
        };
        MlError::value(
            column,
            row,
            format!(
                "items in a basket must be unique, but {name} is repeated; \
                 set dedup_items = true to drop repeats"
            ),
        )
    };
    // Each worker folds into its own count vector and remembers its first repeated-item row; the
    // smallest such row is reported, whatever the thread count. A repeat is found by stamping
    // each item with the last row (+ 1) it was seen in, with no per-basket sort.
    let (counts, first_dup) = chunks
        .par_iter()
        .fold(
            || (vec![0u32; n_keys], None::<usize>, vec![0u32; n_keys]),
            |(mut counts, mut first_dup, mut seen), &(s, e)| {
                for row in s..e {
                    // n <= u32::MAX (checked above), so row + 1 fits.
                    let stamp = row as u32 + 1;
                    for &x in &ids[offs[row]..offs[row + 1]] {
                        if seen[x as usize] == stamp {
                            if !dedup {
                                first_dup = Some(first_dup.map_or(row, |d: usize| d.min(row)));
                                break;
                            }
                            continue;
                        }
                        seen[x as usize] = stamp;
                        counts[x as usize] += 1;
                    }
                    if first_dup.is_some() {
                        break;
                    }
                }
                (counts, first_dup, seen)
            },
        )
        .map(|(c, d, _)| (c, d))
        .reduce(
            || (vec![0u32; n_keys], None),
            |(mut a, da), (b, db)| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                let d = match (da, db) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                (a, d)
            },
        );
    if let Some(row) = first_dup {
        return Err(dup_error(row));
    }

    let num_distinct = counts.iter().filter(|&&c| c > 0).count();
    // Ranks: frequent items by descending count, ties by ascending value.
    let mut frequent: Vec<u32> = (0..n_keys as u32)
        .filter(|&k| counts[k as usize] >= min_count)
        .collect();
    match &keys {
        Keys::Int(k) => frequent.sort_unstable_by(|&a, &b| {
            counts[b as usize]
                .cmp(&counts[a as usize])
                .then(k[a as usize].cmp(&k[b as usize]))
        }),
        Keys::Str(k) => frequent.sort_unstable_by(|&a, &b| {
            counts[b as usize]
                .cmp(&counts[a as usize])
                .then(k[a as usize].cmp(&k[b as usize]))
        }),
    }
    let mut rank_of = vec![u32::MAX; n_keys];
    for (r, &k) in frequent.iter().enumerate() {
        rank_of[k as usize] = r as u32;
    }
    let support: Vec<u32> = frequent.iter().map(|&k| counts[k as usize]).collect();
    let vocab = match keys {
        Keys::Int(k) => ItemVocab::Int(frequent.iter().map(|&x| k[x as usize]).collect()),
        Keys::Str(mut k) => ItemVocab::Str(
            frequent
                .iter()
                .map(|&x| std::mem::take(&mut k[x as usize]))
                .collect(),
        ),
    };

    // Pass 2: recode to sorted, de-duplicated ranks of frequent items.
    let parts: Vec<(Vec<usize>, Vec<u32>)> = chunks
        .par_iter()
        .map(|&(s, e)| {
            let mut lens = Vec::with_capacity(e - s);
            let mut items = Vec::with_capacity(offs[e] - offs[s]);
            for row in s..e {
                let start = items.len();
                items.extend(
                    ids[offs[row]..offs[row + 1]]
                        .iter()
                        .map(|&x| rank_of[x as usize])
                        .filter(|&r| r != u32::MAX),
                );
                let slice = &mut items[start..];
                slice.sort_unstable();
                if dedup {
                    let mut w = 0;
                    for k in 0..slice.len() {
                        if k == 0 || slice[k] != slice[w - 1] {
                            slice[w] = slice[k];
                            w += 1;
                        }
                    }
                    items.truncate(start + w);
                }
                lens.push(items.len() - start);
            }
            (lens, items)
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.1.len()).sum();
    let mut tx = Transactions {
        offsets: Vec::with_capacity(n + 1),
        items: Vec::with_capacity(total),
    };
    tx.offsets.push(0);
    for (lens, items) in parts {
        let mut o = *tx.offsets.last().expect("offset");
        for l in lens {
            o += l;
            tx.offsets.push(o);
        }
        tx.items.extend_from_slice(&items);
    }
    Ok((
        Encoded {
            vocab,
            support,
            tx,
            num_transactions: n,
            num_distinct,
        },
        min_count,
    ))
}
