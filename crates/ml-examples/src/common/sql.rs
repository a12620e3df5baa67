//! SQL over Arrow data through DataFusion: register a [`Dataset`]'s record batch as a table,
//! run queries, collect the answer back into a [`Dataset`] (no copies on either side).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use ml_core::Dataset;

use super::Result;

/// A DataFusion session with its own tokio runtime, so `main` stays synchronous.
pub struct Sql {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
}

impl Sql {
    /// A session on a multi-threaded tokio runtime (2 worker threads).
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Sql {
            runtime,
            ctx: SessionContext::new(),
        })
    }

    /// Registers a dataset as a table (the record batch is shared, not copied).
    pub fn register(&self, name: &str, data: &Dataset) -> Result<()> {
        let _ = self.ctx.deregister_table(name)?;
        self.ctx.register_batch(name, data.batch().clone())?;
        Ok(())
    }

    /// Registers a Parquet file (or directory of part files) as a table.
    pub fn register_parquet(&self, name: &str, path: &Path) -> Result<()> {
        let _ = self.ctx.deregister_table(name)?;
        let path = path
            .to_str()
            .ok_or_else(|| format!("path '{}' is not valid UTF-8", path.display()))?;
        self.runtime.block_on(self.ctx.register_parquet(
            name,
            path,
            ParquetReadOptions::default(),
        ))?;
        Ok(())
    }

    /// Runs a query and collects its answer into one dataset.
    pub fn query(&self, sql: &str) -> Result<Dataset> {
        let batches: Vec<RecordBatch> = self.runtime.block_on(async {
            let df = self.ctx.sql(sql).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok::<_, datafusion::error::DataFusionError>(if batches.is_empty() {
                vec![RecordBatch::new_empty(schema)]
            } else {
                batches
            })
        })?;
        let schema = batches[0].schema();
        let batch = concat_batches(&schema, &batches)?;
        Ok(Dataset::new(batch))
    }

    /// Runs a query, writes its answer under a title to `out`, and returns it.
    pub fn show(
        &self,
        out: &mut dyn Write,
        title: &str,
        sql: &str,
        max_rows: usize,
    ) -> Result<Dataset> {
        let answer = self.query(sql)?;
        writeln!(out, "\n{title}")?;
        writeln!(out, "{}", answer.show(max_rows)?)?;
        if answer.num_rows() > max_rows {
            writeln!(out, "({} rows, first {max_rows} shown)", answer.num_rows())?;
        }
        Ok(answer)
    }
}

/// The values of a column as `f64` (any numeric type; nulls become NaN), through
/// [`ml_core::dataset::column_to_f64`].
pub fn f64_values(data: &Dataset, column: &str) -> Result<Vec<f64>> {
    let col =
        ml_core::dataset::column_to_f64(data, column, ml_core::dataset::NullPolicy::NullAsNaN)?;
    Ok(col.values().to_vec())
}

/// The values of a column as display strings (any type; nulls become "null").
pub fn string_values(data: &Dataset, column: &str) -> Result<Vec<String>> {
    let col = data.column(column)?;
    let fmt = arrow::util::display::ArrayFormatter::try_new(
        col.as_ref(),
        &arrow::util::display::FormatOptions::default().with_null("null"),
    )?;
    Ok((0..col.len()).map(|i| fmt.value(i).to_string()).collect())
}
