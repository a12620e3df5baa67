//! Why the loan model refuses a loan, and whether it treats `int_rate` as credit does.
//!
//! The boosted trees' TreeSHAP contributions (ml-tree's
//! [`GradientBoostedTreesModel::predict_contributions`]) are given per slot of the assembled
//! feature vector; [`ColumnSlots`] sums them back into the input columns the slots came from
//! (the one-hot slots of `grade` into `grade`), so a row's [`Explanation`] reads by column and
//! its contributions plus the bias add up to its margin (the log-odds of a bad loan).
//! [`Explanation::top_reasons`] names the columns that pushed the margin up most.
//! [`monotone_violations`] walks one slot along a grid and counts where P(bad) falls.
//!
//! ```
//! use ml_examples::loan_risk::explain::ColumnSlots;
//!
//! // Three one-hot slots of grade, then int_rate.
//! let slots = ColumnSlots::new(&[("grade".into(), 3), ("int_rate".into(), 1)]);
//! assert_eq!(slots.sum_by_column(&[0.1, 0.2, 0.3, 0.5]).unwrap(), vec![0.1 + 0.2 + 0.3, 0.5]);
//! assert_eq!(slots.first_slot("int_rate"), Some(3));
//! ```

use ml_core::ndarray::{Array2, ArrayView2};
use ml_tree::GradientBoostedTreesModel;

use crate::common::Result;

/// Which input column each slot of the assembled feature vector came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSlots {
    columns: Vec<String>,
    column_of_slot: Vec<usize>,
}

impl ColumnSlots {
    /// The slots as VectorAssembler lays out its inputs: `parts` holds each input column's
    /// name and number of slots, in assembly order (a one-hot encoded column: its vector size;
    /// a number: 1).
    pub fn new(parts: &[(String, usize)]) -> Self {
        let columns = parts.iter().map(|(name, _)| name.clone()).collect();
        let column_of_slot = parts
            .iter()
            .enumerate()
            .flat_map(|(c, (_, width))| std::iter::repeat_n(c, *width))
            .collect();
        ColumnSlots {
            columns,
            column_of_slot,
        }
    }

    /// The input columns, in assembly order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of slots of the feature vector.
    pub fn num_slots(&self) -> usize {
        self.column_of_slot.len()
    }

    /// The first slot of `column`, if it is one of the inputs and has a slot.
    pub fn first_slot(&self, column: &str) -> Option<usize> {
        let c = self.columns.iter().position(|name| name == column)?;
        self.column_of_slot.iter().position(|&k| k == c)
    }

    /// Per-slot values summed per input column (in [`ColumnSlots::columns`] order).
    pub fn sum_by_column(&self, per_slot: &[f64]) -> Result<Vec<f64>> {
        if per_slot.len() != self.num_slots() {
            return Err(format!(
                "{} values for a feature vector of {} slots",
                per_slot.len(),
                self.num_slots()
            )
            .into());
        }
        let mut sums = vec![0.0; self.columns.len()];
        for (&c, v) in self.column_of_slot.iter().zip(per_slot) {
            sums[c] += v;
        }
        Ok(sums)
    }
}

/// One row's TreeSHAP explanation, by input column.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The row's margin (log-odds of a bad loan), as the trees predict it.
    pub margin: f64,
    /// SHAP's bias: the expected margin, where every row starts.
    pub bias: f64,
    /// Each input column's contribution to the margin, in [`ColumnSlots::columns`] order.
    pub by_column: Vec<f64>,
}

impl Explanation {
    /// The `k` columns (indices) with the largest contributions, the one pushing the margin
    /// towards "bad" most first; ties keep column order. Fewer only when there are fewer
    /// columns.
    pub fn top_reasons(&self, k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.by_column.len()).collect();
        order.sort_by(|&a, &b| self.by_column[b].total_cmp(&self.by_column[a]));
        order.truncate(k);
        order
    }

    /// The bias plus every contribution: the margin again, up to rounding.
    pub fn total(&self) -> f64 {
        self.bias + self.by_column.iter().sum::<f64>()
    }
}

/// TreeSHAP explanations of every row of `x` (the model's feature vectors), by input column.
/// The model must have one output (binary or regression).
pub fn explain(
    model: &GradientBoostedTreesModel,
    x: ArrayView2<'_, f64>,
    slots: &ColumnSlots,
) -> Result<Vec<Explanation>> {
    if x.ncols() != slots.num_slots() {
        return Err(format!(
            "explain: {} features, but the columns fill {} slots",
            x.ncols(),
            slots.num_slots()
        )
        .into());
    }
    let width = slots.num_slots() + 1;
    let contributions = model.predict_contributions(x)?;
    let margins = model.predict_margins(x)?;
    if contributions.len() != x.nrows() * width || margins.len() != x.nrows() {
        return Err("explain: the model has more than one output per row".into());
    }
    contributions
        .chunks(width)
        .zip(margins)
        .map(|(c, margin)| {
            Ok(Explanation {
                margin,
                bias: c[width - 1],
                by_column: slots.sum_by_column(&c[..width - 1])?,
            })
        })
        .collect()
}

/// The mean absolute contribution of each of `num_columns` columns over `explained` rows
/// (zeros when there are none).
pub fn mean_abs(explained: &[Explanation], num_columns: usize) -> Vec<f64> {
    let mut sums = vec![0.0; num_columns];
    for e in explained {
        for (s, c) in sums.iter_mut().zip(&e.by_column) {
            *s += c.abs();
        }
    }
    let n = explained.len().max(1) as f64;
    sums.into_iter().map(|s| s / n).collect()
}

/// `n` evenly spaced values from the lowest to the highest finite value of `values` (empty
/// when there is none; one value when `n` is 1 or all values are equal).
pub fn grid(values: impl IntoIterator<Item = f64>, n: usize) -> Vec<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi || n == 0 {
        return Vec::new();
    }
    if n == 1 || lo == hi {
        return vec![lo];
    }
    (0..n)
        .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
        .collect()
}

/// How many times the model's prediction falls between consecutive points when slot `slot`
/// of each of the `rows` of `x` is set to the increasing values of `grid` (the rest of the row
/// unchanged). 0 for a model whose prediction never decreases in that slot.
pub fn monotone_violations(
    model: &GradientBoostedTreesModel,
    x: ArrayView2<'_, f64>,
    rows: &[usize],
    slot: usize,
    grid: &[f64],
) -> Result<usize> {
    if slot >= x.ncols() {
        return Err(format!("slot {slot} of {} features", x.ncols()).into());
    }
    if let Some(r) = rows.iter().find(|&&r| r >= x.nrows()) {
        return Err(format!("row {r} of {} rows", x.nrows()).into());
    }
    if grid.windows(2).any(|w| w[0] > w[1]) {
        return Err("monotone check: the grid must be increasing".into());
    }
    let mut probe = Array2::zeros((rows.len() * grid.len(), x.ncols()));
    for (k, mut line) in probe.rows_mut().into_iter().enumerate() {
        line.assign(&x.row(rows[k / grid.len()]));
        line[slot] = grid[k % grid.len()];
    }
    let predicted = model.predict(probe.view())?;
    Ok(predicted
        .chunks(grid.len().max(1))
        .map(|along| along.windows(2).filter(|w| w[1] < w[0]).count())
        .sum())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array};
    use ml_core::feature::VectorAssembler;
    use ml_core::{Dataset, Estimator, Transformer};
    use ml_tree::GradientBoostedTrees;

    use super::*;

    /// Two features: `a` in [0, 1) on a fine grid, `b` a two-level nuisance; the label is bad
    /// in the middle of `a`'s range (not monotone in `a`).
    fn hump_data() -> Dataset {
        let n = 400;
        let a: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let y: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| f64::from((0.3..0.6).contains(a) || (*b > 0.5 && *a > 0.9)))
            .collect();
        let data = Dataset::from_columns(vec![
            ("a", Arc::new(Float64Array::from(a)) as ArrayRef),
            ("b", Arc::new(Float64Array::from(b)) as ArrayRef),
            ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
        ])
        .expect("columns");
        VectorAssembler::new(&["a", "b"], "features")
            .transform(&data)
            .expect("assembled")
    }

    fn fit(data: &Dataset, monotone: &str) -> GradientBoostedTreesModel {
        let mut gbt = GradientBoostedTrees::new().with_monotone_constraints(monotone.into());
        gbt.num_round = 10;
        gbt.max_depth = 4;
        gbt.eta = 0.5;
        gbt.fit(data).expect("fitted")
    }

    #[test]
    fn column_slots_sum_one_hot_slots_into_their_column() {
        let slots = ColumnSlots::new(&[
            ("grade".into(), 3),
            ("int_rate".into(), 1),
            ("purpose".into(), 2),
        ]);
        assert_eq!(slots.num_slots(), 6);
        assert_eq!(slots.first_slot("int_rate"), Some(3));
        assert_eq!(slots.first_slot("purpose"), Some(4));
        assert_eq!(slots.first_slot("dti"), None);
        assert_eq!(
            slots
                .sum_by_column(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
                .unwrap(),
            vec![6.0, 4.0, 11.0]
        );
        assert!(slots.sum_by_column(&[1.0]).is_err());
    }

    #[test]
    fn top_reasons_are_the_largest_contributions_in_decreasing_order() {
        let e = Explanation {
            margin: 0.0,
            bias: 0.0,
            by_column: vec![0.1, -2.0, 0.7, 0.3, 0.7],
        };
        assert_eq!(e.top_reasons(3), vec![2, 4, 3]);
        assert_eq!(e.top_reasons(9).len(), 5);
    }

    #[test]
    fn contributions_and_bias_add_up_to_the_margin() {
        let data = hump_data();
        let model = fit(&data, "");
        let slots = ColumnSlots::new(&[("a".into(), 1), ("b".into(), 1)]);
        let x = data.features("features").unwrap();
        let explained = explain(&model, x, &slots).unwrap();
        assert_eq!(explained.len(), 400);
        for e in &explained {
            assert!((e.total() - e.margin).abs() < 1e-9, "{e:?}");
        }
        // The hump is in `a`: it matters more than the nuisance `b`.
        let m = mean_abs(&explained, 2);
        assert!(m[0] > m[1], "{m:?}");
    }

    #[test]
    fn a_monotone_constraint_removes_the_falls_along_the_grid() {
        let data = hump_data();
        let x = data.features("features").unwrap();
        let g = grid(x.column(0).iter().copied(), 30);
        assert_eq!(g.len(), 30);
        let rows = [0, 1, 2, 3];
        let free = fit(&data, "");
        assert!(monotone_violations(&free, x, &rows, 0, &g).unwrap() > 0);
        let constrained = fit(&data, "(1,0)");
        assert_eq!(
            monotone_violations(&constrained, x, &rows, 0, &g).unwrap(),
            0
        );
        assert!(monotone_violations(&constrained, x, &[400], 0, &g).is_err());
    }

    #[test]
    fn grid_spans_the_finite_values() {
        assert_eq!(grid([2.0, f64::NAN, 0.0, 1.0], 3), vec![0.0, 1.0, 2.0]);
        assert_eq!(grid([5.0, 5.0], 4), vec![5.0]);
        assert!(grid([f64::NAN], 4).is_empty());
    }
}
