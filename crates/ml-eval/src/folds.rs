//! Fold assignments for [`CrossValidator`](crate::CrossValidator): random (Spark's `kFold`),
//! stratified by a column (scikit-learn's `StratifiedKFold`) and by groups (scikit-learn's
//! `GroupKFold`). Each gives the fold of every row, from the seed and the column's values
//! in row order only.

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use ml_core::dataset::unit_uniform;
use ml_core::{Dataset, MlError, Result};

/// Random folds: row `i` goes to fold `floor(unit_uniform(seed, i) * k)`, so fold sizes are
/// about `n / k` (Spark's `kFold`).
pub fn random_folds(n: usize, num_folds: usize, seed: u64) -> Vec<usize> {
    (0..n)
        .map(|i| {
            let u = unit_uniform(seed, i as u64);
            ((u * num_folds as f64) as usize).min(num_folds - 1)
        })
        .collect()
}

/// Stratified folds: the rows of each class (each distinct value of `classes`, a null being
/// a class of its own) are shuffled by `seed` and dealt to the folds in turn, the next class
/// starting at the fold after the one the previous class ended on. So every fold holds each
/// class's count divided by `k`, within one row, and fold sizes differ by at most one row.
pub fn stratified_folds(classes: &[Option<String>], num_folds: usize, seed: u64) -> Vec<usize> {
    let (keys, members) = rows_by_key(classes);
    let mut by_class: Vec<(&Option<String>, Vec<usize>)> = keys.into_iter().zip(members).collect();
    // Classes in sorted order, so the assignment does not depend on which comes first.
    by_class.sort_by(|a, b| a.0.cmp(b.0));
    let mut fold = vec![0; classes.len()];
    let mut next = 0;
    for (_, mut rows) in by_class {
        rows.sort_by(|&a, &b| {
            unit_uniform(seed, a as u64)
                .total_cmp(&unit_uniform(seed, b as u64))
                .then(a.cmp(&b))
        });
        for r in rows {
            fold[r] = next;
            next = (next + 1) % num_folds;
        }
    }
    fold
}

/// Group folds: all rows of a group (a distinct value of `groups`; a null is a group of its
/// own) go to one fold. Groups are taken largest first (ties: the larger value first) and
/// each goes to the fold with the fewest rows so far (ties: the lowest fold), as
/// scikit-learn's `GroupKFold` (without shuffling). Needs at least `num_folds` groups.
pub fn group_folds(groups: &[Option<String>], num_folds: usize) -> Result<Vec<usize>> {
    let (keys, members) = rows_by_key(groups);
    if members.len() < num_folds {
        return Err(MlError::data(format!(
            "{} groups are too few for {num_folds} folds: each fold needs a group",
            members.len()
        )));
    }
    let mut order: Vec<usize> = (0..members.len()).collect();
    // Larger groups first; among groups of one size, the larger key first (scikit-learn's
    // stable ascending sort of the sorted unique groups, reversed).
    order.sort_by(|&a, &b| {
        members[b]
            .len()
            .cmp(&members[a].len())
            .then_with(|| keys[b].cmp(keys[a]))
    });
    let mut sizes = vec![0usize; num_folds];
    let mut fold = vec![0; groups.len()];
    for g in order {
        let f = (0..num_folds).min_by_key(|&f| (sizes[f], f)).unwrap_or(0);
        sizes[f] += members[g].len();
        for &r in &members[g] {
            fold[r] = f;
        }
    }
    Ok(fold)
}

/// The distinct keys in order of first appearance, and the rows of each.
fn rows_by_key(keys: &[Option<String>]) -> (Vec<&Option<String>>, Vec<Vec<usize>>) {
    let mut distinct: Vec<&Option<String>> = Vec::new();
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        let slot = *index.entry(k).or_insert_with(|| {
            distinct.push(k);
            rows.push(Vec::new());
            rows.len() - 1
        });
        rows[slot].push(i);
    }
    (distinct, rows)
}

/// The values of column `name` as text (numbers as Arrow prints them), nulls as `None`: the
/// classes or groups of the rows.
pub fn column_keys(data: &Dataset, name: &str) -> Result<Vec<Option<String>>> {
    let col = data.column(name)?;
    let text = arrow::compute::cast(col, &DataType::Utf8).map_err(|e| {
        MlError::param(
            name,
            format!(
                "column '{name}' of type {} cannot define folds ({e}); use a string or \
                 numeric column",
                col.data_type()
            ),
        )
    })?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| MlError::data(format!("column '{name}' did not cast to text")))?;
    Ok((0..text.len())
        .map(|i| (!text.is_null(i)).then(|| text.value(i).to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn stratified_folds_keep_each_class_within_one_row_of_its_share() {
        // 3 classes of 50, 31 and 7 rows, interleaved.
        let mut classes = Vec::new();
        for i in 0..88 {
            classes.push(Some(
                if i % 3 == 0 && i < 21 {
                    "c"
                } else if i % 2 == 0 {
                    "a"
                } else {
                    "b"
                }
                .to_string(),
            ));
        }
        for k in [2, 3, 4, 5] {
            let folds = stratified_folds(&classes, k, 7);
            for class in ["a", "b", "c"] {
                let total = classes
                    .iter()
                    .filter(|c| c.as_deref() == Some(class))
                    .count();
                for f in 0..k {
                    let here = (0..classes.len())
                        .filter(|&i| folds[i] == f && classes[i].as_deref() == Some(class))
                        .count();
                    let share = total as f64 / k as f64;
                    assert!(
                        (here as f64 - share).abs() < 1.0,
                        "k {k} class {class} fold {f}: {here} of {total}"
                    );
                }
            }
            let mut sizes = vec![0; k];
            for &f in &folds {
                sizes[f] += 1;
            }
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "{sizes:?}"
            );
        }
        // The seed shuffles; the same seed gives the same folds.
        assert_eq!(
            stratified_folds(&classes, 3, 7),
            stratified_folds(&classes, 3, 7)
        );
        assert_ne!(
            stratified_folds(&classes, 3, 7),
            stratified_folds(&classes, 3, 8)
        );
    }

    #[test]
    fn group_folds_match_scikit_learn_group_kfold() {
        // sklearn.model_selection.GroupKFold(n_splits=3) on groups
        // [a a a a b b c d d d e f f f f f] (sizes a4 b2 c1 d3 e1 f5): f -> 0, a -> 1,
        // d -> 2, b -> 2, e -> 1, c -> 0 (largest first, to the lightest fold; e before c).
        let g = keys(&[
            "a", "a", "a", "a", "b", "b", "c", "d", "d", "d", "e", "f", "f", "f", "f", "f",
        ]);
        let folds = group_folds(&g, 3).unwrap();
        assert_eq!(folds, vec![1, 1, 1, 1, 2, 2, 0, 2, 2, 2, 1, 0, 0, 0, 0, 0]);
        let err = group_folds(&keys(&["a", "b"]), 3).unwrap_err();
        assert!(err.to_string().contains("2 groups"), "{err}");
    }
}
