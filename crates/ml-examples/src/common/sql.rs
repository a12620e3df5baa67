//! SQL over Arrow data through DataFusion: register a [`Dataset`]'s record batch as a table,
//! run queries, collect the answer back into a [`Dataset`] (no copies on either side).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use ml_core::Dataset;

use super::Result;

/// A DataFusion failure told in one line: what was being done (the table registered, the
/// query run) and DataFusion's own message, without its "Internal error ... filing a bug
/// report" boilerplate, backtrace, Debug dump of a parser error or line breaks.
#[derive(Debug)]
pub struct SqlError {
    what: String,
    message: String,
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

impl std::error::Error for SqlError {}

impl SqlError {
    /// `e` met while doing `what`.
    pub fn new(what: impl Into<String>, e: &DataFusionError) -> Self {
        let root = e.find_root();
        let message = match root {
            DataFusionError::Internal(desc) => {
                format!("DataFusion cannot run it on this data ({desc})")
            }
            DataFusionError::SQL(parse, _) => format!("SQL syntax: {parse}"),
            DataFusionError::Context(desc, inner) => {
                format!("{desc}: {}", inner.strip_backtrace())
            }
            other => other.strip_backtrace(),
        };
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        SqlError {
            what: what.into(),
            message,
        }
    }

    /// What was being done.
    pub fn what(&self) -> &str {
        &self.what
    }
}

/// `query`, shortened to one line of at most 80 characters for messages.
fn query_text(query: &str) -> String {
    let line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(80) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line,
    }
}

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
        let what = || format!("SQL table '{name}'");
        let _ = self
            .ctx
            .deregister_table(name)
            .map_err(|e| SqlError::new(what(), &e))?;
        self.ctx
            .register_batch(name, data.batch().clone())
            .map_err(|e| SqlError::new(what(), &e))?;
        Ok(())
    }

    /// Registers a Parquet file (or directory of part files) as a table.
    pub fn register_parquet(&self, name: &str, path: &Path) -> Result<()> {
        let what = || format!("SQL table '{name}' from '{}'", path.display());
        let _ = self
            .ctx
            .deregister_table(name)
            .map_err(|e| SqlError::new(what(), &e))?;
        let path_text = path
            .to_str()
            .ok_or_else(|| format!("path '{}' is not valid UTF-8", path.display()))?;
        self.runtime
            .block_on(
                self.ctx
                    .register_parquet(name, path_text, ParquetReadOptions::default()),
            )
            .map_err(|e| SqlError::new(what(), &e))?;
        Ok(())
    }

    /// Runs a query and collects its answer into one dataset.
    pub fn query(&self, sql: &str) -> Result<Dataset> {
        let batches: Vec<RecordBatch> = self
            .runtime
            .block_on(async {
                let df = self.ctx.sql(sql).await?;
                let schema = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await?;
                Ok::<_, datafusion::error::DataFusionError>(if batches.is_empty() {
                    vec![RecordBatch::new_empty(schema)]
                } else {
                    batches
                })
            })
            .map_err(|e| SqlError::new(format!("SQL query `{}`", query_text(sql)), &e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_errors_are_one_line_without_the_bug_report_text() {
        let e = SqlError::new(
            "SQL query `SELECT 1`",
            &DataFusionError::Internal("Physical input schema should be the same".into()),
        )
        .to_string();
        assert!(
            e.starts_with("SQL query `SELECT 1`: DataFusion cannot run it on this data"),
            "{e}"
        );
        assert!(!e.contains('\n') && !e.contains("bug report") && !e.contains("Internal error"));

        let sql = Sql::new().unwrap();
        let e = sql
            .query("SELECT  x\n FROM no_such_table")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("SQL query `SELECT x FROM no_such_table`: "),
            "{e}"
        );
        assert!(e.contains("no_such_table") && !e.contains('\n'), "{e}");
        let e = sql.query("SELEC 1").unwrap_err().to_string();
        assert!(
            e.contains("SQL syntax") && !e.contains("ParserError("),
            "{e}"
        );
    }
}
