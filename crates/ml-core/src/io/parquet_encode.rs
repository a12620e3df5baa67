//! [`ColumnsInParallel`]: a Parquet file written as `ArrowWriter` writes it, byte for byte, with
//! the columns of each batch encoded on the threads of the current rayon pool.
//!
//! `ArrowWriter` encodes (dictionary, RLE, Snappy) one column after another on the thread that
//! calls it; with a reader feeding it, that one thread was the write's bottleneck. Here each
//! column's [`ArrowColumnWriter`] takes its part of a batch on a thread of its own, and the
//! closed column chunks are appended in column order. Each column writer gets the same slices
//! of rows in the same order as inside `ArrowWriter` (the same row-group cuts), so its pages,
//! and therefore the file, are the same bytes whatever the number of threads.

use std::io::Write;

use ::parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use ::parquet::arrow::ArrowWriter;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

type PqResult<T> = std::result::Result<T, ParquetError>;

/// The open row group: a writer per leaf column and the rows it holds.
struct OpenGroup {
    writers: Vec<ArrowColumnWriter>,
    rows: usize,
}

/// Writes record batches of one schema to a Parquet file, encoding columns in parallel.
pub(crate) struct ColumnsInParallel<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: usize,
    open: Option<OpenGroup>,
}

impl<W: Write + Send> ColumnsInParallel<W> {
    /// A writer of `schema` to `out` with `props` (the file's metadata is the one
    /// `ArrowWriter::try_new` makes: it is made by one). `props` must set a row count per row
    /// group and no byte limit, the one cut this writer reproduces.
    pub(crate) fn try_new(out: W, schema: SchemaRef, props: WriterProperties) -> PqResult<Self> {
        if props.max_row_group_bytes().is_some() {
            return Err(ParquetError::General(
                "the parallel column writer cuts row groups by rows only".into(),
            ));
        }
        let max_rows = props
            .max_row_group_row_count()
            .ok_or_else(|| ParquetError::General("no row count per row group".into()))?
            .max(1);
        let (file, factory) =
            ArrowWriter::try_new(out, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ColumnsInParallel {
            file,
            factory,
            schema,
            max_rows,
            open: None,
        })
    }

    /// Encodes `batch` (of the writer's schema), cutting row groups at the row count as
    /// `ArrowWriter::write` does.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> PqResult<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let group = match &mut self.open {
                Some(group) => group,
                slot => slot.insert(OpenGroup {
                    writers: self
                        .factory
                        .create_column_writers(self.file.flushed_row_groups().len())?,
                    rows: 0,
                }),
            };
            let room = self.max_rows - group.rows;
            let take = batch.num_rows().min(room);
            let part = batch.slice(0, take);
            batch = batch.slice(take, batch.num_rows() - take);
            let leaves = leaves(&self.schema, &part)?;
            if leaves.len() != group.writers.len() {
                return Err(ParquetError::General(format!(
                    "{} leaf columns for {} column writers",
                    leaves.len(),
                    group.writers.len()
                )));
            }
            group
                .writers
                .par_iter_mut()
                .zip(leaves)
                .try_for_each(|(writer, leaf)| writer.write(&leaf))?;
            group.rows += take;
            if group.rows >= self.max_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Closes the open row group (its column chunks closed in parallel, appended in order).
    fn flush(&mut self) -> PqResult<()> {
        let Some(group) = self.open.take() else {
            return Ok(());
        };
        let chunks = group
            .writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<PqResult<Vec<_>>>()?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub(crate) fn close(mut self) -> PqResult<()> {
        self.flush()?;
        self.file.close()?;
        Ok(())
    }
}

/// The leaf columns of `batch` (of `schema`), in the file's column order.
fn leaves(schema: &SchemaRef, batch: &RecordBatch) -> PqResult<Vec<ArrowLeafColumn>> {
    let mut leaves = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field.as_ref(), column)?);
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ::parquet::basic::Compression;
    use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};

    use super::*;

    fn batch(start: usize, rows: usize) -> RecordBatch {
        let ids = start..start + rows;
        RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(Int64Array::from_iter(
                    ids.clone().map(|i| (i % 7 != 3).then_some(i as i64 * 31)),
                )) as ArrayRef,
            ),
            (
                "few",
                Arc::new(StringArray::from_iter(
                    ids.clone()
                        .map(|i| (i % 11 != 5).then(|| format!("c{}", i % 13))),
                )),
            ),
            (
                "unique",
                Arc::new(StringArray::from_iter_values(
                    ids.clone().map(|i| format!("{:x}", i * 2_654_435_761)),
                )),
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter_values(
                    ids.clone().map(|i| i as f64 / 3.0),
                )),
            ),
            (
                "b",
                Arc::new(BooleanArray::from_iter(
                    ids.map(|i| (i % 5 != 0).then_some(i % 2 == 0)),
                )),
            ),
        ])
        .unwrap()
    }

    /// Batches that start and end inside row groups, end exactly on a cut, are empty, or
    /// span several row groups.
    fn batches() -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut at = 0;
        for rows in [300, 700, 0, 1, 2_500, 999, 1_000, 17] {
            out.push(batch(at, rows));
            at += rows;
        }
        out
    }

    fn props() -> WriterProperties {
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1_000))
            .set_data_page_row_count_limit(256)
            .build()
    }

    #[test]
    fn the_file_is_arrow_writers_bytes_at_any_thread_count() {
        let schema = batch(0, 1).schema();
        let mut expected = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut expected, schema.clone(), Some(props())).unwrap();
        for b in batches() {
            writer.write(&b).unwrap();
        }
        writer.close().unwrap();
        for threads in [1, 2, 3] {
            let got = crate::threads::install(threads, || {
                let mut out = Vec::new();
                let mut writer =
                    ColumnsInParallel::try_new(&mut out, schema.clone(), props()).unwrap();
                for b in batches() {
                    writer.write(&b).unwrap();
                }
                writer.close().unwrap();
                out
            })
            .unwrap();
            assert!(got == expected, "{threads} threads: the bytes differ");
        }
        // And nothing at all: a file with no row group, as ArrowWriter writes it.
        let mut expected = Vec::new();
        ArrowWriter::try_new(&mut expected, schema.clone(), Some(props()))
            .unwrap()
            .close()
            .unwrap();
        let mut got = Vec::new();
        ColumnsInParallel::try_new(&mut got, schema.clone(), props())
            .unwrap()
            .close()
            .unwrap();
        assert!(got == expected, "an empty file differs");
    }

    #[test]
    fn a_byte_limit_per_row_group_is_refused() {
        let props = WriterProperties::builder()
            .set_max_row_group_bytes(Some(1 << 20))
            .build();
        let schema = batch(0, 1).schema();
        assert!(ColumnsInParallel::try_new(Vec::new(), schema, props).is_err());
    }
}
