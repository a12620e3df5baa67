//! The task-side steps of Spark's parallel FP-growth (`ml_fpm::pfp`): baskets to conditional
//! transactions per item group ([`pfp_conditional`]), and each group's FP tree mined
//! ([`pfp_mine`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, AsArray, Int32Array, Int32Builder, Int64Array,
    ListArray, ListBuilder, UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow::pyarrow::PyArrowType;
use arrow::record_batch::RecordBatch;
use ml_core::MlError;
use ml_fpm::pfp::{conditional_transactions, mine_group, PfpGroup};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::convert::py_err;

/// Item keys of either kind: strings or integers (other types are cast to one of them).
enum Ranks {
    Str(HashMap<String, u32>),
    Int(HashMap<i64, u32>),
}

/// Whether items of type `dt` are compared as strings.
fn is_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The rank of each frequent item (its position in `items`).
fn ranks_of(items: &ArrayRef) -> Result<Ranks, MlError> {
    if is_text(items.data_type()) {
        let s = cast(items, &DataType::Utf8)?;
        let s = s.as_string::<i32>();
        Ok(Ranks::Str(
            s.iter()
                .enumerate()
                .filter_map(|(r, v)| v.map(|v| (v.to_string(), r as u32)))
                .collect(),
        ))
    } else {
        let s = cast(items, &DataType::Int64)?;
        let s = s.as_primitive::<Int64Type>();
        Ok(Ranks::Int(
            s.iter()
                .enumerate()
                .filter_map(|(r, v)| v.map(|v| (v, r as u32)))
                .collect(),
        ))
    }
}

/// The baskets of `column` of `batch` as a list array with `Utf8` or `Int64` values.
fn baskets(batch: &RecordBatch, column: &str, text: bool) -> Result<ListArray, MlError> {
    let col = batch
        .column_by_name(column)
        .ok_or_else(|| MlError::data(format!("no column '{column}' in the baskets")))?;
    let item = if text {
        DataType::Utf8
    } else {
        DataType::Int64
    };
    let target = DataType::List(Arc::new(Field::new("item", item, true)));
    let list = cast(col, &target).map_err(|e| {
        MlError::data(format!(
            "column '{column}' must hold arrays of the frequent items' type ({target}), got {}: {e}",
            col.data_type()
        ))
    })?;
    Ok(list.as_list::<i32>().clone())
}

/// Conditional transactions of the baskets of `items_col` in `batch`: one row `(group,
/// ranks)` per group a basket touches, with the basket's frequent item ranks (ascending) up to
/// its last item of that group. `freq_items` lists the frequent items, most frequent first
/// (rank = position); groups are `rank mod num_groups`. A basket holding an item twice is an
/// error (as in Spark); null baskets give nothing.
#[pyfunction]
pub fn pfp_conditional(
    py: Python<'_>,
    batch: PyArrowType<RecordBatch>,
    items_col: &str,
    freq_items: PyArrowType<ArrayData>,
    num_groups: usize,
) -> PyResult<PyArrowType<RecordBatch>> {
    if num_groups == 0 {
        return Err(PyValueError::new_err("num_groups must be at least 1"));
    }
    let batch = batch.0;
    let freq = make_array(freq_items.0);
    let out = py
        .detach(|| conditional(&batch, items_col, &freq, num_groups))
        .map_err(py_err)?;
    Ok(PyArrowType(out))
}

fn conditional(
    batch: &RecordBatch,
    items_col: &str,
    freq: &ArrayRef,
    num_groups: usize,
) -> Result<RecordBatch, MlError> {
    let ranks = ranks_of(freq)?;
    let list = baskets(batch, items_col, matches!(ranks, Ranks::Str(_)))?;
    let mut groups = Int32Builder::new();
    let mut txs = ListBuilder::new(Int32Builder::new());
    let mut basket: Vec<u32> = Vec::new();
    for row in 0..list.len() {
        if list.is_null(row) {
            continue;
        }
        basket.clear();
        let values = list.value(row);
        match &ranks {
            Ranks::Str(m) => {
                for v in values.as_string::<i32>().iter().flatten() {
                    if let Some(&r) = m.get(v) {
                        basket.push(r);
                    }
                }
            }
            Ranks::Int(m) => {
                for v in values.as_primitive::<Int64Type>().iter().flatten() {
                    if let Some(&r) = m.get(&v) {
                        basket.push(r);
                    }
                }
            }
        }
        basket.sort_unstable();
        if let Some(w) = basket.windows(2).find(|w| w[0] == w[1]) {
            return Err(MlError::value(
                items_col,
                row,
                format!(
                    "items in a basket must be unique; the item of rank {} appears twice",
                    w[0]
                ),
            ));
        }
        conditional_transactions(&basket, num_groups, &mut |g, t| {
            groups.append_value(g as i32);
            txs.values().extend(t.iter().map(|&r| Some(r as i32)));
            txs.append(true);
        });
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("group", DataType::Int32, false),
            Field::new(
                "ranks",
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                false,
            ),
        ])),
        vec![Arc::new(groups.finish()), Arc::new(txs.finish())],
    )?)
}

/// Mines every group in the `(group, ranks)` rows of `batches` (a task's stream after the
/// shuffle by group): one FP tree per group, the itemsets whose last item is in the group.
/// Returns `(items, freq)`: the itemsets as lists of the frequent items (the type of
/// `freq_items`) and their counts.
#[pyfunction]
#[pyo3(signature = (batches, freq_items, num_groups, min_count, max_len=None, max_itemsets=10_000_000))]
pub fn pfp_mine(
    py: Python<'_>,
    batches: PyArrowType<ArrowArrayStreamReader>,
    freq_items: PyArrowType<ArrayData>,
    num_groups: usize,
    min_count: u64,
    max_len: Option<usize>,
    max_itemsets: usize,
) -> PyResult<PyArrowType<RecordBatch>> {
    let reader = batches.0;
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| PyRuntimeError::new_err(format!("reading the task's Arrow batches: {e}")))?;
    let freq = make_array(freq_items.0);
    let out = py
        .detach(|| {
            mine(
                &batches,
                &freq,
                num_groups,
                min_count,
                max_len,
                max_itemsets,
            )
        })
        .map_err(py_err)?;
    Ok(PyArrowType(out))
}

fn mine(
    batches: &[RecordBatch],
    freq: &ArrayRef,
    num_groups: usize,
    min_count: u64,
    max_len: Option<usize>,
    max_itemsets: usize,
) -> Result<RecordBatch, MlError> {
    // The transactions of each group, as CSR.
    let mut by_group: BTreeMap<usize, (Vec<usize>, Vec<u32>)> = BTreeMap::new();
    for b in batches {
        let g = b
            .column_by_name("group")
            .ok_or_else(|| MlError::data("no column 'group'"))?;
        let g = cast(g, &DataType::Int32)?;
        let g: &Int32Array = g.as_primitive::<Int32Type>();
        let t = b
            .column_by_name("ranks")
            .ok_or_else(|| MlError::data("no column 'ranks'"))?;
        let t = cast(
            t,
            &DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
        )?;
        let t = t.as_list::<i32>();
        for row in 0..b.num_rows() {
            let group = g.value(row);
            if group < 0 || group as usize >= num_groups {
                return Err(MlError::data(format!(
                    "group {group} is not in 0..{num_groups}"
                )));
            }
            let (offsets, items) = by_group
                .entry(group as usize)
                .or_insert_with(|| (vec![0], Vec::new()));
            let v = t.value(row);
            for r in v.as_primitive::<Int32Type>().values() {
                items.push(u32::try_from(*r).map_err(|_| MlError::data("negative rank"))?);
            }
            offsets.push(items.len());
        }
    }
    let mut offsets: Vec<i32> = vec![0];
    let mut ranks: Vec<u32> = Vec::new();
    let mut counts: Vec<i64> = Vec::new();
    for (group, (o, items)) in &by_group {
        let mut params = PfpGroup::new(*group, num_groups, freq.len(), min_count);
        params.max_len = max_len;
        params.max_itemsets = max_itemsets;
        let found = mine_group(&params, o.windows(2).map(|w| &items[w[0]..w[1]]))?;
        for k in 0..found.len() {
            ranks.extend_from_slice(found.get(k));
            offsets.push(
                i32::try_from(ranks.len())
                    .map_err(|_| MlError::data("more than 2^31 items in one task's itemsets"))?,
            );
            counts.push(found.freq[k] as i64);
        }
    }
    let values = take(freq.as_ref(), &UInt32Array::from(ranks), None)?;
    let item_field = Arc::new(Field::new("item", freq.data_type().clone(), true));
    let items = ListArray::try_new(
        item_field.clone(),
        OffsetBuffer::new(offsets.into()),
        values,
        None,
    )?;
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("items", DataType::List(item_field), false),
            Field::new("freq", DataType::Int64, false),
        ])),
        vec![Arc::new(items), Arc::new(Int64Array::from(counts))],
    )?)
}
