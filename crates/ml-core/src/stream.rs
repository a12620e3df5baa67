//! Data larger than memory: re-openable sources of record batches, and stages applied to them.
//!
//! A [`BatchSource`] can be opened any number of times, each time giving the same batches in
//! the same order (a file, a directory of Parquet part files, batches in memory, or another
//! source with a fitted stage applied). That is what lets a [`Pipeline`](crate::Pipeline) fit
//! stage by stage over data that does not fit in memory: an estimator reads the source once
//! per pass it needs, through the stages fitted before it, holding one batch at a time.
//!
//! * Sources: [`ParquetSource`] (a file or a part-file directory, row group by row group, only
//!   the projected columns decoded), [`CsvSource`] (chunked), [`MemorySource`] (batches in
//!   memory, for tests and small data) and [`table_source`] (by the path, as
//!   [`read_table`](crate::io::read_table)).
//! * Stages on sources: [`TransformedSource`] applies a fitted [`Transformer`] batch by batch
//!   (lazily, when the source is read); [`Estimator::fit_source`](crate::Estimator::fit_source)
//!   fits from a source, in one pass for the stages whose statistic allows it.
//! * Sinks: [`write_parquet_source`] writes a source to one Parquet file with memory bounded by
//!   a batch and a row group, atomically (a temporary file renamed at the end; on error
//!   nothing is left behind).
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::stream::{BatchSource, MemorySource, TransformedSource};
//! use ml_core::feature::VectorAssembler;
//! use ml_core::Dataset;
//!
//! let data = Dataset::from_columns(vec![
//!     ("x", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0])) as ArrayRef),
//! ]).unwrap();
//! let source = MemorySource::from_dataset(&data, 2).unwrap(); // batches of 2, 2 and 1 rows
//! let assembled = TransformedSource::new(Arc::new(source), Box::new(VectorAssembler::new(&["x"], "v")));
//! let rows: Vec<usize> = assembled.open().unwrap().map(|b| b.unwrap().num_rows()).collect();
//! assert_eq!(rows, vec![2, 2, 1]);
//! assert_eq!(assembled.schema().unwrap().field(1).name(), "v");
//! ```

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::io::{csv_batches_inferred, infer_csv_schema, parquet_batches_with, CsvReadOptions};
use crate::io::{ParquetReadOptions, ReadOptions};
use crate::traits::Transformer;

pub(crate) mod read_ahead;
use read_ahead::ReadAhead;
pub use read_ahead::ReadAheadSource;

/// `source` read on a thread of its own, one batch ahead of its consumer, at every read (see
/// [`ReadAheadSource`]).
pub fn read_ahead(source: Arc<dyn BatchSource>) -> ReadAheadSource {
    ReadAheadSource::new(source)
}

/// Rows per batch when a source is made without a batch size (Spark's and arrow-rs's usual
/// order of magnitude: large enough that per-batch costs vanish, small enough that a batch of
/// a few hundred columns stays in the tens of megabytes).
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// The batches of one read of a [`BatchSource`]; after an error it ends.
pub type BatchIter<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>;

/// A re-openable source of record batches: every [`open`](BatchSource::open) reads the same
/// rows in the same order, in batches of the same schema.
pub trait BatchSource: Send + Sync + Debug {
    /// The schema of every batch.
    fn schema(&self) -> Result<SchemaRef>;
    /// Starts a read from the first row.
    fn open(&self) -> Result<BatchIter<'_>>;
    /// Starts a read of only `columns`, in this order: the rows of [`open`](BatchSource::open)
    /// in batches of these columns alone, for a consumer that needs no others (a
    /// `StringIndexer` counting its input columns). The default reads every column and keeps
    /// these ([`keep_columns`]); a source that can leave the others unread and undecoded (a
    /// Parquet file, a split or a read-ahead of one) does so. A column the source lacks is an
    /// [`MlError::ColumnNotFound`].
    fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
        Ok(keep_columns(self.open()?, columns))
    }
}

impl<S: BatchSource + ?Sized> BatchSource for Arc<S> {
    fn schema(&self) -> Result<SchemaRef> {
        (**self).schema()
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        (**self).open()
    }
    fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
        (**self).open_columns(columns)
    }
}

/// `batches` with only `columns` kept, in this order (what
/// [`BatchSource::open_columns`] gives by default); a missing column is an
/// [`MlError::ColumnNotFound`] at the first batch.
pub fn keep_columns<'a>(batches: BatchIter<'a>, columns: &[&str]) -> BatchIter<'a> {
    let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    Box::new(batches.map(move |batch| {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(Dataset::new(batch?).select(&names)?.into_batch())
    }))
}

/// Checks that `schema` has every one of `columns` ([`MlError::ColumnNotFound`] naming the
/// first one missing).
fn check_columns(schema: &SchemaRef, columns: &[&str]) -> Result<()> {
    for c in columns {
        crate::dataset::index_of(schema, c)?;
    }
    Ok(())
}

/// Reads a whole source into one dataset (for a stage that cannot fit in one pass, or for
/// data known to be small). Memory is the whole table.
pub fn collect(source: &dyn BatchSource) -> Result<Dataset> {
    let schema = source.schema()?;
    let batches = source.open()?.collect::<Result<Vec<_>>>()?;
    crate::io::concat_batches(&schema, batches).map(Dataset::new)
}

/// The number of categories of each of `columns` over every row of `source` (one pass): the
/// largest integer code + 1, as [`crate::dataset::category_count`] counts it in memory (null
/// and NaN are missing). A negative, fractional or too large code is an error naming the
/// column and the row of the source. Give the counts to
/// [`crate::feature::VectorAssembler::with_category_counts`] so that every batch of a stream
/// gets the same categorical slots.
pub fn category_counts(source: &dyn BatchSource, columns: &[&str]) -> Result<Vec<usize>> {
    use crate::dataset::{check_category_code, column_to_f64, NullPolicy, MAX_CATEGORY_CODE};
    // Per column: the largest code and its row.
    let mut max = vec![(-1.0f64, 0usize); columns.len()];
    let mut offset = 0usize;
    for batch in source.open()? {
        let data = Dataset::new(batch?);
        for (c, m) in columns.iter().zip(max.iter_mut()) {
            let codes = column_to_f64(&data, c, NullPolicy::Keep)?;
            for (row, &v) in codes.values().iter().enumerate() {
                if v.is_nan() || arrow::array::Array::is_null(&codes, row) {
                    continue;
                }
                // Negative and fractional codes now; the size limit, which depends on the
                // number of rows, once they are all counted.
                check_category_code(c, offset + row, v, f64::INFINITY)?;
                if v > m.0 {
                    *m = (v, offset + row);
                }
            }
        }
        offset += data.num_rows();
    }
    let limit = MAX_CATEGORY_CODE.max(offset as f64 + 1.0);
    columns
        .iter()
        .zip(max)
        .map(|(c, (v, row))| {
            check_category_code(c, row, v.max(0.0), limit)?;
            Ok((v + 1.0) as usize)
        })
        .collect()
}

/// The number of rows of a source (one pass).
pub fn count_rows(source: &dyn BatchSource) -> Result<usize> {
    let mut n = 0;
    for batch in source.open()? {
        n += batch?.num_rows();
    }
    Ok(n)
}

/// Batches held in memory (tests, small data, or a dataset cut into batches).
#[derive(Debug, Clone)]
pub struct MemorySource {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl MemorySource {
    /// A source of these batches; they must all have `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self> {
        if let Some((i, _)) = batches
            .iter()
            .enumerate()
            .find(|(_, b)| b.schema().fields() != schema.fields())
        {
            return Err(MlError::data(format!(
                "batch {i} has another schema than the source's"
            )));
        }
        Ok(MemorySource { schema, batches })
    }

    /// `data` cut into batches of `batch_rows` rows (the last one shorter).
    pub fn from_dataset(data: &Dataset, batch_rows: usize) -> Result<Self> {
        if batch_rows == 0 {
            return Err(MlError::param("batch_rows", "must be at least 1"));
        }
        let n = data.num_rows();
        let batches = (0..n)
            .step_by(batch_rows)
            .map(|start| data.batch().slice(start, batch_rows.min(n - start)))
            .collect();
        Ok(MemorySource {
            schema: data.schema(),
            batches,
        })
    }
}

impl BatchSource for MemorySource {
    fn schema(&self) -> Result<SchemaRef> {
        Ok(self.schema.clone())
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        Ok(Box::new(self.batches.iter().cloned().map(Ok)))
    }
}

/// A Parquet file or a directory of part files (as [`read_parquet`](crate::io::read_parquet)
/// lays them out), read file by file in batches of at most `batch_size` rows, decoding only
/// the projected columns. Each read decodes on a thread of its own, one batch ahead of its
/// consumer (so a consumer's own work per batch overlaps the decoding; at most two more
/// batches held), unless [`ParquetSource::with_read_ahead`] turns that off.
#[derive(Debug, Clone)]
pub struct ParquetSource {
    path: PathBuf,
    options: ParquetReadOptions,
    read_ahead: bool,
}

impl ParquetSource {
    /// Every column, in batches of [`DEFAULT_BATCH_ROWS`].
    pub fn new(path: impl AsRef<Path>) -> Self {
        ParquetSource {
            path: path.as_ref().to_path_buf(),
            options: ParquetReadOptions::new().batch_size(DEFAULT_BATCH_ROWS),
            read_ahead: true,
        }
    }

    /// With these read options (projection and batch size).
    pub fn with_options(mut self, options: ParquetReadOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether reads decode one batch ahead on a thread of their own (the default, `true`).
    /// `false` decodes on the consumer's thread when it asks for the next batch: for a caller
    /// that times its own work apart from the reading (`train_gbdt`'s `train_s`), or that must
    /// not run a thread besides its pool.
    pub fn with_read_ahead(mut self, read_ahead: bool) -> Self {
        self.read_ahead = read_ahead;
        self
    }
}

impl ParquetSource {
    /// A read with `options`, one batch ahead or not as the source is set.
    fn read(&self, options: &ParquetReadOptions) -> Result<BatchIter<'_>> {
        let batches = parquet_batches_with(&self.path, options)?;
        if self.read_ahead {
            Ok(Box::new(ReadAhead::new(batches)))
        } else {
            Ok(Box::new(batches))
        }
    }
}

impl BatchSource for ParquetSource {
    fn schema(&self) -> Result<SchemaRef> {
        Ok(parquet_batches_with(&self.path, &self.options)?.schema())
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        self.read(&self.options)
    }
    /// Only `columns` are decoded (the reader's projection mask), in batches of the same rows;
    /// no column at all is a whole read cut to none (the reader decodes at least one).
    fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
        if columns.is_empty() {
            return Ok(keep_columns(self.open()?, columns));
        }
        check_columns(&self.schema()?, columns)?;
        self.read(&self.options.clone().columns(columns))
    }
}

/// A CSV file read in batches of [`CsvReadOptions::batch_size`] rows. The schema is inferred
/// once, when the source is made (unless the options give one), so every read has the same
/// types.
#[derive(Debug, Clone)]
pub struct CsvSource {
    path: PathBuf,
    options: CsvReadOptions,
    /// Whether the schema in `options` was inferred here, and from how many rows (`None`:
    /// the caller gave it), for the error messages.
    inferred: Option<Option<usize>>,
}

impl CsvSource {
    /// A source of `path` with `options`; infers the schema now if the options have none.
    pub fn new(path: impl AsRef<Path>, options: &CsvReadOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut options = options.clone();
        let inferred = options.schema.is_none().then_some(options.infer_rows);
        if options.schema.is_none() {
            let mut full = options.clone();
            full.columns = None;
            options.schema = Some(infer_csv_schema(&path, &full)?);
        }
        Ok(CsvSource {
            path,
            options,
            inferred,
        })
    }
}

impl BatchSource for CsvSource {
    fn schema(&self) -> Result<SchemaRef> {
        Ok(csv_batches_inferred(&self.path, &self.options, self.inferred)?.schema())
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        Ok(Box::new(csv_batches_inferred(
            &self.path,
            &self.options,
            self.inferred,
        )?))
    }
}

/// A source for a table path, as [`read_table`](crate::io::read_table) picks the reader: a
/// `.csv` file, a `.parquet`/`.pq` file or a directory of Parquet part files; only
/// `options.columns` are read; batches of `batch_rows` rows.
pub fn table_source(
    path: impl AsRef<Path>,
    options: &ReadOptions,
    batch_rows: usize,
) -> Result<Box<dyn BatchSource>> {
    let path = path.as_ref();
    if batch_rows == 0 {
        return Err(MlError::param("batch_rows", "must be at least 1"));
    }
    if crate::io::format_of(path)? == crate::io::Format::Csv {
        let mut csv = options.csv.clone().batch_size(batch_rows);
        csv.columns = options.columns.clone();
        Ok(Box::new(CsvSource::new(path, &csv)?))
    } else {
        let mut pq = ParquetReadOptions::new().batch_size(batch_rows);
        pq.columns = options.columns.clone();
        Ok(Box::new(ParquetSource::new(path).with_options(pq)))
    }
}

/// A source with a fitted stage applied to every batch, lazily: nothing is computed until the
/// source is read, and each read applies the stage again (a pipeline model applied to data
/// larger than memory is a chain of these).
///
/// The stage must treat rows independently (every fitted stage of ml-core does; a
/// [`VectorAssembler`](crate::feature::VectorAssembler) with `categorical_cols` counts
/// categories per batch, so give it nominal columns from a fitted `StringIndexer` instead).
#[derive(Debug, Clone)]
pub struct TransformedSource {
    inner: Arc<dyn BatchSource>,
    stage: Arc<dyn Transformer>,
}

impl TransformedSource {
    /// `stage` applied to the batches of `inner`.
    pub fn new(inner: Arc<dyn BatchSource>, stage: Box<dyn Transformer>) -> Self {
        TransformedSource {
            inner,
            stage: Arc::from(stage),
        }
    }
}

impl BatchSource for TransformedSource {
    fn schema(&self) -> Result<SchemaRef> {
        let schema = self.inner.schema()?;
        Ok(Arc::new(self.stage.transform_schema(&schema)?))
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        let stage = self.stage.clone();
        Ok(Box::new(self.inner.open()?.map(move |batch| {
            let out = stage.transform(&Dataset::new(batch?))?;
            Ok(out.into_batch())
        })))
    }
}

/// Several sources read one after the other as one (several CSV files, several Parquet
/// directories): every part must have the first part's schema (checked when the source is
/// built and again as each part is opened, since a file may change in between).
#[derive(Debug)]
pub struct ConcatSource {
    parts: Vec<Box<dyn BatchSource>>,
    schema: SchemaRef,
}

impl ConcatSource {
    /// `parts` in order; an error when there is none or when their schemas differ (naming the
    /// part).
    pub fn new(parts: Vec<Box<dyn BatchSource>>) -> Result<Self> {
        let schema = parts
            .first()
            .ok_or_else(|| MlError::param("parts", "a concatenation needs at least one source"))?
            .schema()?;
        for (i, p) in parts.iter().enumerate().skip(1) {
            check_part_schema(&schema, &p.schema()?, i)?;
        }
        Ok(ConcatSource { parts, schema })
    }
}

/// The error when part `i`'s schema is not `expected`.
fn check_part_schema(expected: &SchemaRef, got: &SchemaRef, i: usize) -> Result<()> {
    if expected.fields() != got.fields() {
        return Err(MlError::data(format!(
            "part {i} of a concatenation has columns {:?}, the first part {:?}; every part \
             must have the same columns and types",
            got.fields()
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>(),
            expected
                .fields()
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>(),
        )));
    }
    Ok(())
}

impl BatchSource for ConcatSource {
    fn schema(&self) -> Result<SchemaRef> {
        Ok(self.schema.clone())
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        let schema = self.schema.clone();
        Ok(Box::new(self.parts.iter().enumerate().flat_map(
            move |(i, p)| -> BatchIter<'_> {
                let opened = p.schema().and_then(|s| {
                    check_part_schema(&schema, &s, i)?;
                    p.open()
                });
                match opened {
                    Ok(it) => it,
                    Err(e) => Box::new(std::iter::once(Err(e))),
                }
            },
        )))
    }
}

/// One part of [`random_split`]: the rows of `inner` whose draw falls in this part, in order.
#[derive(Debug, Clone)]
pub struct SplitSource {
    inner: Arc<dyn BatchSource>,
    bounds: Arc<[f64]>,
    seed: u64,
    part: usize,
}

/// Splits a source's rows at random into parts with the given weights, as
/// [`Dataset::random_split`] splits a table: row `r` of the source (counted from its first
/// row) goes to the same part in both, so the parts are the same rows whatever the batch
/// sizes. Each part is a source that reads `inner` again and keeps its rows (Spark's
/// `randomSplit`, which also re-reads its input for each part).
pub fn random_split(
    inner: Arc<dyn BatchSource>,
    weights: &[f64],
    seed: u64,
) -> Result<Vec<SplitSource>> {
    let bounds: Arc<[f64]> = crate::dataset::split_bounds(weights)?.into();
    Ok((0..weights.len())
        .map(|part| SplitSource {
            inner: inner.clone(),
            bounds: bounds.clone(),
            seed,
            part,
        })
        .collect())
}

impl SplitSource {
    /// This part's rows of `batches` (a read of `inner`, of any columns).
    fn keep_rows<'a>(&'a self, batches: BatchIter<'a>) -> BatchIter<'a> {
        let mut offset = 0u64;
        Box::new(batches.map(move |batch| {
            let batch = batch?;
            // The mask's bits packed 64 at a time, no validity buffer.
            let mask = arrow::array::BooleanArray::from(
                arrow::buffer::BooleanBuffer::collect_bool(batch.num_rows(), |i| {
                    let row = offset + i as u64;
                    crate::dataset::split_part(&self.bounds, self.seed, row) == self.part
                }),
            );
            offset += batch.num_rows() as u64;
            Ok(arrow::compute::filter_record_batch(&batch, &mask)?)
        }))
    }
}

impl BatchSource for SplitSource {
    fn schema(&self) -> Result<SchemaRef> {
        self.inner.schema()
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        Ok(self.keep_rows(self.inner.open()?))
    }
    /// The inner source's read of `columns`, split: the draws depend on the rows' positions
    /// alone, so the part has the same rows.
    fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
        Ok(self.keep_rows(self.inner.open_columns(columns)?))
    }
}

/// A borrowed source seen through a growing list of fitted stages, applied to every batch in
/// order: what [`Pipeline::fit_source`](crate::Pipeline) hands each estimator (the source as
/// the stages before it leave it).
#[derive(Debug)]
pub struct StagedSource<'a> {
    inner: &'a dyn BatchSource,
    stages: Vec<Arc<dyn Transformer>>,
}

impl<'a> StagedSource<'a> {
    /// `inner` with no stage yet.
    pub fn new(inner: &'a dyn BatchSource) -> Self {
        StagedSource {
            inner,
            stages: Vec::new(),
        }
    }

    /// Appends a stage, applied after the ones before it.
    pub fn push(&mut self, stage: Box<dyn Transformer>) {
        self.stages.push(Arc::from(stage));
    }
}

impl BatchSource for StagedSource<'_> {
    fn schema(&self) -> Result<SchemaRef> {
        let mut schema = self.inner.schema()?;
        for stage in &self.stages {
            schema = Arc::new(stage.transform_schema(&schema)?);
        }
        Ok(schema)
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        let stages = self.stages.clone();
        Ok(Box::new(self.inner.open()?.map(move |batch| {
            let mut data = Dataset::new(batch?);
            for stage in &stages {
                data = stage.transform(&data)?;
            }
            Ok(data.into_batch())
        })))
    }
}

/// Writes every batch of `source` to one Snappy-compressed Parquet file (row groups of at most
/// 1,048,576 rows and about 256 MiB of values, as [`write_parquet`](crate::io::write_parquet)), holding at most three batches
/// (the source is read one batch ahead, on a thread of its own, while the previous batch is
/// encoded) and one row group at a time. The file is written under a temporary name and
/// renamed when complete; on any error (a bad batch in the middle of the source included) the
/// temporary file is removed and `path` is untouched. Returns the number of rows written.
pub fn write_parquet_source(source: &dyn BatchSource, path: impl AsRef<Path>) -> Result<usize> {
    let schema = source.schema()?;
    crate::io::write_parquet_batches(path.as_ref(), schema, source.open()?, true)
}

/// [`write_parquet_source`] for a scratch copy, one that lives no longer than the process (in
/// a temporary directory, say): the same file, written under a temporary name and renamed when
/// complete, but not synced to disk before the rename. The operating system writes it back
/// when it likes, or not at all when it is deleted first; a crash may lose it. Anything a user
/// keeps should go through [`write_parquet_source`].
///
/// ```
/// use ml_core::stream::{write_parquet_source_unsynced, MemorySource};
/// let data = ml_core::Dataset::from_columns(vec![(
///     "x",
///     std::sync::Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0])) as arrow::array::ArrayRef,
/// )])
/// .unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("scratch.parquet");
/// let rows = write_parquet_source_unsynced(&MemorySource::from_dataset(&data, 1).unwrap(), &path)
///     .unwrap();
/// assert_eq!(rows, 2);
/// assert_eq!(ml_core::io::read_parquet(&path).unwrap().num_rows(), 2);
/// ```
pub fn write_parquet_source_unsynced(
    source: &dyn BatchSource,
    path: impl AsRef<Path>,
) -> Result<usize> {
    let schema = source.schema()?;
    crate::io::write_parquet_batches(path.as_ref(), schema, source.open()?, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Float64Array, Int64Array};

    fn data(n: i64) -> Dataset {
        Dataset::from_columns(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| i as f64 * 0.5),
                )) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn random_split_of_a_source_gives_the_tables_parts_at_any_batch_size() {
        let d = data(2000);
        let expected = d.random_split(&[0.7, 0.2, 0.1], 42).unwrap();
        // The parts partition the rows (checked by id, independently of the split code).
        let mut ids: Vec<i64> = expected
            .iter()
            .flat_map(|p| p.i64_column("id").unwrap().values().to_vec())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..2000).collect::<Vec<_>>());
        for batch in [1, 7, 2000] {
            let source: Arc<dyn BatchSource> =
                Arc::new(MemorySource::from_dataset(&d, batch).unwrap());
            let parts = random_split(source, &[0.7, 0.2, 0.1], 42).unwrap();
            for (p, e) in parts.iter().zip(&expected) {
                assert_eq!(collect(p).unwrap().batch(), e.batch(), "batch {batch}");
                // Read again: the same rows.
                assert_eq!(count_rows(p).unwrap(), e.num_rows());
            }
        }
        let source: Arc<dyn BatchSource> = Arc::new(MemorySource::from_dataset(&d, 10).unwrap());
        assert!(matches!(
            random_split(source, &[0.0, -1.0], 1),
            Err(MlError::InvalidParam { .. })
        ));
    }

    #[test]
    fn a_scratch_parquet_copy_is_the_same_file() {
        let d = data(5_000);
        let source = MemorySource::from_dataset(&d, 700).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (synced, scratch) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        assert_eq!(write_parquet_source(&source, &synced).unwrap(), 5_000);
        assert_eq!(
            write_parquet_source_unsynced(&source, &scratch).unwrap(),
            5_000
        );
        assert!(std::fs::read(&synced).unwrap() == std::fs::read(&scratch).unwrap());
        // Nothing else in the directory: the temporary names were renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// The batches of a read, each cut to `columns` after the read (the reference for
    /// `open_columns`).
    fn read_then_keep(source: &dyn BatchSource, columns: &[&str]) -> Vec<RecordBatch> {
        source
            .open()
            .unwrap()
            .map(|b| {
                Dataset::new(b.unwrap())
                    .select(columns)
                    .unwrap()
                    .into_batch()
            })
            .collect()
    }

    fn read_columns(source: &dyn BatchSource, columns: &[&str]) -> Vec<RecordBatch> {
        source
            .open_columns(columns)
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    }

    #[test]
    fn a_read_of_some_columns_has_the_rows_of_a_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let pq = dir.path().join("d.parquet");
        let d = data(3000);
        let d = d
            .with_column(
                "s",
                Arc::new(arrow::array::StringArray::from_iter_values(
                    (0..3000).map(|i| format!("v{}", i % 7)),
                )) as ArrayRef,
            )
            .unwrap();
        crate::io::write_parquet(&d, &pq).unwrap();
        let file = ParquetSource::new(&pq).with_options(
            ParquetReadOptions::new()
                .columns(&["s", "x"])
                .batch_size(700),
        );
        for columns in [&["x"][..], &["x", "s"], &[]] {
            assert_eq!(
                read_columns(&file, columns),
                read_then_keep(&file, columns),
                "{columns:?}"
            );
        }
        // A column the source does not read is missing, whether the file has it or not.
        for missing in ["id", "nope"] {
            assert!(matches!(
                file.open_columns(&[missing]).err(),
                Some(MlError::ColumnNotFound { .. })
            ));
        }
        // Splits, read-aheads and memory sources: the same rows as a whole read.
        let shared: Arc<dyn BatchSource> = Arc::new(file);
        for part in random_split(shared.clone(), &[0.7, 0.3], 5).unwrap() {
            assert_eq!(read_columns(&part, &["x"]), read_then_keep(&part, &["x"]));
            let ahead = read_ahead(Arc::new(part));
            assert_eq!(read_columns(&ahead, &["s"]), read_then_keep(&ahead, &["s"]));
        }
        let mem = MemorySource::from_dataset(&d, 999).unwrap();
        assert_eq!(
            read_columns(&mem, &["s", "id"]),
            read_then_keep(&mem, &["s", "id"])
        );
        assert!(mem
            .open_columns(&["nope"])
            .unwrap()
            .next()
            .unwrap()
            .is_err());
    }

    /// A source that refuses whole reads: only reads of some columns work.
    #[derive(Debug)]
    struct ColumnsOnly(MemorySource);

    impl BatchSource for ColumnsOnly {
        fn schema(&self) -> Result<SchemaRef> {
            self.0.schema()
        }
        fn open(&self) -> Result<BatchIter<'_>> {
            Err(MlError::data("read whole"))
        }
        fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
            self.0.open_columns(columns)
        }
    }

    #[test]
    fn a_string_indexer_reads_its_input_columns_alone_and_fits_the_same_model() {
        use crate::feature::StringIndexer;
        use crate::traits::Estimator;
        let d = data(500)
            .with_column(
                "s",
                Arc::new(arrow::array::StringArray::from_iter_values(
                    (0..500).map(|i| format!("v{}", (i * i) % 11)),
                )) as ArrayRef,
            )
            .unwrap();
        let indexer = StringIndexer::multi(&["s", "s"], &["a", "b"]);
        let expected = indexer.fit(&d).unwrap();
        let source = ColumnsOnly(MemorySource::from_dataset(&d, 64).unwrap());
        let got = indexer.fit_source(&source).unwrap();
        assert_eq!(got.labels_array(), expected.labels_array());
        assert_eq!(got.labels_array()[0].len(), 6);
    }

    #[test]
    fn a_concatenation_reads_its_parts_in_order_and_refuses_another_schema() {
        let (a, b) = (data(10), data(25));
        let parts: Vec<Box<dyn BatchSource>> = vec![
            Box::new(MemorySource::from_dataset(&a, 4).unwrap()),
            Box::new(MemorySource::from_dataset(&b, 7).unwrap()),
        ];
        let c = ConcatSource::new(parts).unwrap();
        let ids: Vec<i64> = collect(&c)
            .unwrap()
            .i64_column("id")
            .unwrap()
            .values()
            .to_vec();
        let expected: Vec<i64> = (0..10).chain(0..25).collect();
        assert_eq!(ids, expected);
        let other = Dataset::from_columns(vec![(
            "id",
            Arc::new(Int64Array::from_iter_values(0..3)) as ArrayRef,
        )])
        .unwrap();
        let parts: Vec<Box<dyn BatchSource>> = vec![
            Box::new(MemorySource::from_dataset(&a, 4).unwrap()),
            Box::new(MemorySource::from_dataset(&other, 4).unwrap()),
        ];
        let err = ConcatSource::new(parts).unwrap_err().to_string();
        assert!(err.contains("part 1"), "{err}");
        assert!(ConcatSource::new(Vec::new()).is_err());
    }

    #[test]
    fn memory_source_cuts_and_collects_back_to_the_same_rows() {
        let d = data(10);
        let s = MemorySource::from_dataset(&d, 3).unwrap();
        let sizes: Vec<usize> = s.open().unwrap().map(|b| b.unwrap().num_rows()).collect();
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        assert_eq!(collect(&s).unwrap().batch(), d.batch());
        assert_eq!(count_rows(&s).unwrap(), 10);
        // Opened twice: the same batches.
        assert_eq!(collect(&s).unwrap().batch(), d.batch());
    }

    #[test]
    fn parquet_and_csv_sources_read_what_the_whole_file_readers_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = data(1000);
        let pq = dir.path().join("d.parquet");
        crate::io::write_parquet(&d, &pq).unwrap();
        let s = table_source(&pq, &ReadOptions::new(), 128).unwrap();
        assert_eq!(count_rows(s.as_ref()).unwrap(), 1000);
        assert_eq!(collect(s.as_ref()).unwrap().batch(), d.batch());
        let x_only = table_source(&pq, &ReadOptions::new().columns(&["x"]), 300).unwrap();
        assert_eq!(x_only.schema().unwrap().fields().len(), 1);
        assert_eq!(
            collect(x_only.as_ref()).unwrap().f64_column("x").unwrap(),
            d.f64_column("x").unwrap()
        );

        let csv = dir.path().join("d.csv");
        crate::io::write_csv(&d, &csv).unwrap();
        let s = table_source(&csv, &ReadOptions::new(), 77).unwrap();
        let whole = crate::io::read_csv(&csv, &CsvReadOptions::default()).unwrap();
        assert_eq!(collect(s.as_ref()).unwrap().batch(), whole.batch());
        let sizes: Vec<usize> = s.open().unwrap().map(|b| b.unwrap().num_rows()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert!(sizes.iter().all(|&k| k <= 77));
    }

    #[test]
    fn a_source_written_to_parquet_reads_back_and_a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = data(500);
        let s = MemorySource::from_dataset(&d, 64).unwrap();
        let out = dir.path().join("out.parquet");
        assert_eq!(write_parquet_source(&s, &out).unwrap(), 500);
        assert_eq!(crate::io::read_parquet(&out).unwrap().batch(), d.batch());

        // A CSV whose row 400 does not parse: the write fails, the old file stays, no temp file.
        let csv = dir.path().join("bad.csv");
        let mut text = String::from("id\n");
        for i in 0..500 {
            if i == 400 {
                text.push_str("oops\n");
            } else {
                text.push_str(&format!("{i}\n"));
            }
        }
        std::fs::write(&csv, text).unwrap();
        let opts = CsvReadOptions::default()
            .infer_rows(Some(100))
            .batch_size(50);
        let bad = CsvSource::new(&csv, &opts).unwrap();
        let err = write_parquet_source(&bad, &out).unwrap_err().to_string();
        assert!(err.contains("bad.csv") && err.contains("line 402"), "{err}");
        assert_eq!(crate::io::read_parquet(&out).unwrap().num_rows(), 500);
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["bad.csv", "out.parquet"], "no temporary file left");
    }
}
