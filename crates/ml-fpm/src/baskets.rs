//! [`group_baskets`]: baskets (one list of items per basket) from a table with one row per
//! (basket, item) pair, as order lines are stored: Spark's
//! `df.groupBy("order_id").agg(collect_list("product_id"))`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use ml_core::dataset::type_error;
use ml_core::{Dataset, MlError, Result};

/// Groups the rows of `data` into baskets: one output row per distinct value of `basket_col`,
/// with the basket id (`basket_col`, Int64) and its items (`items`, a list of the values of
/// `item_col` in row order within the basket), ready for [`FPGrowth`](crate::FPGrowth).
///
/// When the rows are already grouped (each basket one run of rows, runs in increasing id
/// order), the item column is used as is; otherwise baskets come out in increasing id order
/// (a stable sort, so items keep their row order). Items are strings (Utf8; LargeUtf8 and
/// Utf8View are cast to Utf8) or integers (cast to Int64).
///
/// Errors name the column and row: a null basket id, or a basket id that is not an integer
/// (a float column with a fractional, infinite or NaN value, which would otherwise be merged
/// into a neighbouring basket by a cast); a basket or item column of another type.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
/// use arrow::datatypes::Int64Type;
/// use ml_core::Dataset;
/// use ml_fpm::group_baskets;
///
/// let lines = Dataset::from_columns(vec![
///     ("order_id", Arc::new(Int64Array::from(vec![7, 3, 7, 3, 9])) as ArrayRef),
///     ("product_id", Arc::new(Int64Array::from(vec![10, 11, 12, 13, 14])) as ArrayRef),
/// ]).unwrap();
/// let baskets = group_baskets(&lines, "order_id", "product_id").unwrap();
/// assert_eq!(baskets.i64_column("order_id").unwrap().values().as_ref(), &[3, 7, 9]);
/// let items = baskets.column("items").unwrap().as_list::<i32>().clone();
/// let first = items.value(0);
/// assert_eq!(first.as_primitive::<Int64Type>().values().as_ref(), &[11, 13]);
/// assert_eq!(items.value(1).as_primitive::<Int64Type>().values().as_ref(), &[10, 12]);
/// ```
pub fn group_baskets(data: &Dataset, basket_col: &str, item_col: &str) -> Result<Dataset> {
    let ids = basket_ids(data, basket_col)?;
    let items = data.column(item_col)?.clone();
    let items = match items.data_type() {
        DataType::Utf8 | DataType::Int64 => items,
        DataType::LargeUtf8 | DataType::Utf8View => arrow::compute::cast(&items, &DataType::Utf8)?,
        dt if dt.is_integer() => arrow::compute::cast(&items, &DataType::Int64)?,
        dt => return Err(type_error(item_col, "strings or integers", dt)),
    };
    let n = ids.len();
    let grouped = ids.windows(2).all(|w| w[0] <= w[1]);
    let (values, order): (ArrayRef, Option<Vec<u32>>) = if grouped {
        (items, None)
    } else {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        idx.sort_by_key(|&k| ids[k as usize]);
        let taken = arrow::compute::take(&items, &UInt32Array::from(idx.clone()), None)?;
        (taken, Some(idx))
    };
    let id_at = |k: usize| match &order {
        None => ids[k],
        Some(idx) => ids[idx[k] as usize],
    };
    let mut offsets: Vec<i32> = vec![0];
    let mut basket_ids = Vec::new();
    for k in 0..n {
        if k == 0 || id_at(k) != id_at(k - 1) {
            if k > 0 {
                offsets.push(offset(k)?);
            }
            basket_ids.push(id_at(k));
        }
    }
    if n > 0 {
        offsets.push(offset(n)?);
    }
    let field = Arc::new(Field::new("item", values.data_type().clone(), true));
    let lists = ListArray::try_new(field, OffsetBuffer::new(offsets.into()), values, None)?;
    Dataset::from_columns(vec![
        (
            basket_col,
            Arc::new(Int64Array::from(basket_ids)) as ArrayRef,
        ),
        ("items", Arc::new(lists) as ArrayRef),
    ])
}

/// A list offset, or an error when the rows do not fit a 32-bit list.
fn offset(k: usize) -> Result<i32> {
    i32::try_from(k).map_err(|_| {
        MlError::data(format!(
            "{k} rows of (basket, item) pairs do not fit one list array (at most {})",
            i32::MAX
        ))
    })
}

/// The basket ids as integers, checked: no nulls, and float ids must be whole numbers.
fn basket_ids(data: &Dataset, column: &str) -> Result<Vec<i64>> {
    let col = data.column(column)?;
    let dt = col.data_type();
    if let Some(row) = (0..col.len()).find(|&r| col.is_null(r)) {
        return Err(MlError::value(column, row, "null basket id"));
    }
    if dt.is_integer() {
        let ids = arrow::compute::cast(col, &DataType::Int64)?;
        return Ok(ids.as_primitive::<Int64Type>().values().to_vec());
    }
    if dt.is_floating() {
        let ids = arrow::compute::cast(col, &DataType::Float64)?;
        let ids = ids.as_primitive::<Float64Type>();
        return ids
            .values()
            .iter()
            .enumerate()
            .map(|(row, &v)| {
                if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(v as i64)
                } else {
                    Err(MlError::value(
                        column,
                        row,
                        format!("basket id {v} is not an integer"),
                    ))
                }
            })
            .collect();
    }
    Err(type_error(column, "integer basket ids", dt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};

    fn lines(ids: ArrayRef, items: Vec<&str>) -> Dataset {
        Dataset::from_columns(vec![
            ("order_id", ids),
            ("item", Arc::new(StringArray::from(items)) as ArrayRef),
        ])
        .unwrap()
    }

    /// Brute force: baskets by id with a BTreeMap.
    fn reference(ids: &[i64], items: &[&str]) -> Vec<(i64, Vec<String>)> {
        let mut m = std::collections::BTreeMap::<i64, Vec<String>>::new();
        for (i, it) in ids.iter().zip(items) {
            m.entry(*i).or_default().push(it.to_string());
        }
        m.into_iter().collect()
    }

    fn as_rows(d: &Dataset) -> Vec<(i64, Vec<String>)> {
        let ids = d.i64_column("order_id").unwrap();
        let lists = d.column("items").unwrap().as_list::<i32>().clone();
        (0..d.num_rows())
            .map(|r| {
                let v = lists.value(r);
                let s = v.as_string::<i32>();
                (
                    ids.value(r),
                    s.iter().map(|x| x.unwrap().to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn grouped_and_shuffled_rows_give_the_brute_force_baskets() {
        let items = vec!["a", "b", "c", "d", "e", "f", "g"];
        for ids in [vec![1i64, 1, 2, 5, 5, 5, 9], vec![5i64, 1, 9, 5, 1, 2, 5]] {
            let d = lines(Arc::new(Int64Array::from(ids.clone())), items.clone());
            let got = as_rows(&group_baskets(&d, "order_id", "item").unwrap());
            assert_eq!(got, reference(&ids, &items));
        }
    }

    #[test]
    fn empty_input_gives_no_baskets() {
        let d = lines(Arc::new(Int64Array::from(Vec::<i64>::new())), vec![]);
        assert_eq!(group_baskets(&d, "order_id", "item").unwrap().num_rows(), 0);
    }

    #[test]
    fn fractional_and_null_ids_are_errors_naming_the_row() {
        let d = lines(
            Arc::new(Float64Array::from(vec![1.0, 2.0, 2.5])),
            vec!["a", "b", "c"],
        );
        let e = group_baskets(&d, "order_id", "item")
            .unwrap_err()
            .to_string();
        assert!(e.contains("order_id") && e.contains("row 2"), "{e}");
        let d = lines(
            Arc::new(Int64Array::from(vec![Some(1), None])),
            vec!["a", "b"],
        );
        let e = group_baskets(&d, "order_id", "item")
            .unwrap_err()
            .to_string();
        assert!(e.contains("order_id") && e.contains("row 1"), "{e}");
        // Whole floats are fine.
        let d = lines(Arc::new(Float64Array::from(vec![2.0, 1.0])), vec!["a", "b"]);
        let got = as_rows(&group_baskets(&d, "order_id", "item").unwrap());
        assert_eq!(got, vec![(1, vec!["b".into()]), (2, vec!["a".into()])]);
    }
}
