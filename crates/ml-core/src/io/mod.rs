//! CSV and Parquet reading and writing.
