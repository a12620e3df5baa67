//! Training rows gathered batch by batch, then binned: what the boosting loop trains on.
//!
//! One pass over the rows collects what is kept per row (label, weight, a content key for row
//! sampling) and offers each batch to the cut sample ([`CutSampler`]); after the cut points are
//! known (merged over all workers), the rows are binned straight into the compact matrix.
//! In memory the whole table is one batch; from a [`BatchSource`] the batches are read twice
//! and only one of them is held as `f64` at a time, so the feature matrix never exists (or
//! once, when the first pass could keep every value as a small code: see [`ValueCodes`]).
//! Both give the same bins, so the same model: the cut sample depends on the rows' content
//! alone, and the bins are appended in row order.
//!
//! Bytes per training row held by the boosting loop, `d` features and `g` joint feature
//! groups (see [`BinMatrix`]): the bins `2d + 2g` (row-major, column-major and joint slots),
//! the label 8, the margin `8k` (`k` outputs), the gradient pair 8 and its fixed-point copy 8,
//! two row-index buffers 8, the leaf index of the margin update 1 (2 beyond 254 leaves); with
//! a weight column 8 more, with `subsample < 1` a row key of 8. Until the rows are binned, a
//! streamed fit also holds each value's code, `2d`, while all codes take at most 256 MiB
//! (see [`ValueCodes`]); past that they are dropped and the source is read again.

use ndarray::ArrayView2;

use ml_core::stream::BatchSource;
use ml_core::{MlError, Result};

use crate::binning::{BinMapper, BinMatrix, RowBinner};
use crate::codes::ValueCodes;
use crate::sample::{avalanche, row_hash, CutSampler, CUT_SAMPLE_ROWS};

/// One batch of checked training rows: row-major features, labels, weights.
pub(crate) struct BatchRows<'a> {
    /// Features, one row per training row.
    pub x: ArrayView2<'a, f64>,
    /// Labels.
    pub y: &'a [f64],
    /// Weights, with a weight column.
    pub w: Option<&'a [f64]>,
}

/// Where the cut points come from.
pub(crate) enum Cuts {
    /// The cut sample ([`CutSampler`]), offered every row with positive weight; merged over
    /// workers before the cuts are computed.
    Sample(CutSampler),
    /// Cut points computed already from every row: see [`Gathered::in_memory`].
    Exact(BinMapper),
}

impl Cuts {
    /// The cut points: the sample merged over the workers of `c`, or the exact ones.
    pub fn finish(
        self,
        categorical: &[(usize, usize)],
        max_bin: usize,
        c: &dyn ml_dist::Collective,
    ) -> Result<BinMapper> {
        match self {
            Cuts::Sample(s) => Ok(s.merge_across(c)?.finish(categorical, max_bin)),
            Cuts::Exact(m) => Ok(m),
        }
    }
}

/// What one pass over the training rows keeps: the per-row values and the cut sample.
pub(crate) struct Gathered {
    /// Where the cut points come from.
    pub cuts: Cuts,
    /// Labels, in row order.
    pub y: Vec<f64>,
    /// Weights, with a weight column.
    pub w: Option<Vec<f64>>,
    /// Content keys of the rows (row sampling), when `subsample < 1`.
    pub row_keys: Option<Vec<u64>>,
    /// Number of features.
    pub d: usize,
    /// The rows' values as codes, when gathered from a stream and small enough to keep (see
    /// [`ValueCodes`]): then the rows are binned from them, without reading the source again.
    pub codes: Option<ValueCodes>,
}

impl Gathered {
    /// Nothing gathered yet, for rows of `d` features.
    pub fn new(d: usize, weighted: bool, with_row_keys: bool) -> Self {
        Gathered {
            cuts: Cuts::Sample(CutSampler::new(d, CUT_SAMPLE_ROWS, weighted)),
            y: Vec::new(),
            w: weighted.then(Vec::new),
            row_keys: with_row_keys.then(Vec::new),
            d,
            codes: None,
        }
    }

    /// Nothing gathered yet, for rows of `d` features read from a stream: each batch's values
    /// are also kept as codes while they are small (see [`ValueCodes`]).
    pub fn streamed(d: usize, weighted: bool, with_row_keys: bool) -> Self {
        Gathered {
            codes: Some(ValueCodes::new(d)),
            ..Gathered::new(d, weighted, with_row_keys)
        }
    }

    /// Number of rows gathered.
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Takes in one batch.
    pub fn push(&mut self, b: &BatchRows<'_>) -> Result<()> {
        self.check_shape(b)?;
        if let Cuts::Sample(s) = &mut self.cuts {
            s.push(b.x, b.w)?;
        }
        if let Some(codes) = self.codes.as_mut() {
            codes.push(b.x);
        }
        self.keep_rows(b);
        Ok(())
    }

    /// Every training row of one worker at once, in memory. When that worker is the only one,
    /// the rows are unweighted and they fit in the cut sample (at most 200,000), the sample
    /// would be every row: the cut points are then computed from the rows directly, without
    /// hashing, copying and sorting them into a sample first. They are the same cuts (the cuts
    /// depend on the multiset of values alone when rows are unweighted; see
    /// [`BinMapper::from_sample`]), so the same model.
    pub fn in_memory(
        b: &BatchRows<'_>,
        with_row_keys: bool,
        categorical: &[(usize, usize)],
        max_bin: usize,
        world_size: usize,
    ) -> Result<Self> {
        let d = b.x.ncols();
        let mut g = Gathered::new(d, b.w.is_some(), with_row_keys);
        if world_size == 1 && b.w.is_none() && b.y.len() <= CUT_SAMPLE_ROWS {
            g.check_shape(b)?;
            g.cuts = Cuts::Exact(BinMapper::from_sample(b.x, None, categorical, max_bin));
            g.keep_rows(b);
        } else {
            g.push(b)?;
        }
        Ok(g)
    }

    fn check_shape(&self, b: &BatchRows<'_>) -> Result<()> {
        let n = b.y.len();
        if b.x.dim() != (n, self.d) || b.w.is_some_and(|w| w.len() != n) {
            return Err(MlError::data(format!(
                "a batch of {} rows x {} features where {n} rows x {} features were expected",
                b.x.nrows(),
                b.x.ncols(),
                self.d
            )));
        }
        Ok(())
    }

    /// Keeps the per-row values of a batch: labels, weights, row keys.
    fn keep_rows(&mut self, b: &BatchRows<'_>) {
        let n = b.y.len();
        self.y.extend_from_slice(b.y);
        if let (Some(w), Some(bw)) = (self.w.as_mut(), b.w) {
            w.extend_from_slice(bw);
        }
        if let Some(keys) = self.row_keys.as_mut() {
            // A row's key is its content (features, weight, label), never its position, so
            // sampling is the same however rows are split into batches or between workers.
            keys.extend((0..n).map(|i| {
                let wi = b.w.map_or(1.0, |w| w[i]);
                row_hash(b.x.row(i).iter().copied(), wi) ^ avalanche(b.y[i].to_bits())
            }));
        }
    }
}

/// Bins rows batch by batch into one row-major buffer, then builds the matrix.
pub(crate) struct BinAppender<'m> {
    binner: RowBinner<'m>,
    data: Vec<u8>,
    n_rows: usize,
}

impl<'m> BinAppender<'m> {
    /// An empty matrix under `mapper`, with room for `n_rows` rows.
    pub fn new(mapper: &'m BinMapper, n_rows: usize) -> Self {
        BinAppender {
            binner: RowBinner::new(mapper),
            data: Vec::with_capacity(n_rows * mapper.features.len()),
            n_rows: 0,
        }
    }

    /// Appends the bins of `x`'s rows.
    pub fn push(&mut self, x: ArrayView2<'_, f64>) {
        self.binner.bin_rows_into(x, &mut self.data);
        self.n_rows += x.nrows();
    }

    /// Number of rows appended.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The matrix of every row appended, in the compact layout or the fast one (see
    /// [`BinMatrix`]).
    pub fn finish(self, compact: bool) -> BinMatrix {
        self.binner.mapper().matrix(self.n_rows, self.data, compact)
    }
}

/// Reads `source` again and bins every batch's rows; `with_features` hands a batch's features
/// to the given sink as a view (given the row number of its first row, for errors), so they
/// are binned without a copy; `expected` is the first pass's row count, `compact` the layout
/// of the matrix (see [`BinMatrix`]).
pub(crate) fn bin_source(
    source: &dyn BatchSource,
    mapper: &BinMapper,
    expected: usize,
    compact: bool,
    mut with_features: impl FnMut(
        &ml_core::Dataset,
        usize,
        &mut dyn FnMut(ndarray::ArrayView2<'_, f64>),
    ) -> Result<()>,
) -> Result<BinMatrix> {
    let changed = |second: String| {
        MlError::data(format!(
            "the training source gave {second} rows on its second read and {expected} on its \
             first; a source must give the same rows every time it is opened"
        ))
    };
    let mut out = BinAppender::new(mapper, expected);
    for batch in source.open()? {
        let data = ml_core::Dataset::new(batch?);
        let offset = out.n_rows();
        let mut too_many = false;
        with_features(&data, offset, &mut |x| {
            if offset + x.nrows() > expected {
                too_many = true;
            } else {
                out.push(x);
            }
        })?;
        if too_many {
            return Err(changed(format!("more than {expected}")));
        }
    }
    if out.n_rows() != expected {
        return Err(changed(out.n_rows().to_string()));
    }
    Ok(out.finish(compact))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml_core::stream::MemorySource;
    use ml_core::Dataset;

    /// A source of `n` rows of one feature `x = row % 7`.
    fn source(n: usize) -> MemorySource {
        let x = arrow::array::Float64Array::from_iter_values((0..n).map(|i| (i % 7) as f64));
        let data = Dataset::from_columns(vec![(
            "x",
            std::sync::Arc::new(x) as arrow::array::ArrayRef,
        )])
        .unwrap();
        MemorySource::from_dataset(&data, 64).unwrap()
    }

    /// Cut points from the values 0 to 6, at most 4 bins.
    fn mapper() -> BinMapper {
        let x = ndarray::Array2::from_shape_fn((7, 1), |(i, _)| i as f64);
        BinMapper::from_sample(x.view(), None, &[], 4)
    }

    /// Bins `source` on its second read, as training does when the values were not kept as
    /// codes, after a first read of `expected` rows.
    fn second_read(source: &MemorySource, expected: usize) -> Result<BinMatrix> {
        bin_source(source, &mapper(), expected, false, |data, _, sink| {
            let col = data.f64_column("x")?;
            let x = ndarray::ArrayView2::from_shape((col.len(), 1), col.values())
                .map_err(|e| MlError::data(e.to_string()))?;
            sink(x);
            Ok(())
        })
    }

    #[test]
    fn a_second_read_with_other_rows_is_refused() {
        let bins = second_read(&source(300), 300).unwrap();
        assert_eq!(bins.n_rows(), 300);
        assert_eq!(bins.get(299, 0), mapper().features[0].bin((299 % 7) as f64));
        for (rows, expected, says) in [
            (300, 400, "300 rows on its second read and 400"),
            (300, 200, "more than 200 rows on its second read and 200"),
        ] {
            match second_read(&source(rows), expected) {
                Err(MlError::InvalidData(msg)) => assert!(msg.contains(says), "{msg}"),
                other => panic!("{rows} rows, {expected} expected: {other:?}"),
            }
        }
    }
}
