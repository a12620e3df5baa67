//! [`ReadAhead`]: batches decoded on a thread of their own, one ahead of their consumer.
//!
//! A Parquet read decodes (decompresses, unpacks dictionaries) on the thread that asks for the
//! next batch, so a consumer that does its own work per batch (a split, a transform, a
//! sampler) alternates with the decoding instead of overlapping it. [`ReadAhead`] moves the
//! decoding to a thread that keeps one batch ready: the same batches in the same order, the
//! same errors, at most two more batches held. [`ReadAheadSource`] does the same for every
//! read of a shared source, with whatever that source applies per batch.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{BatchIter, BatchSource};
use crate::error::Result;

/// An iterator over the batches of another, read one batch ahead on a thread of its own; ends
/// after the first error, as the inner iterator's reads do.
pub(crate) struct ReadAhead {
    queued: Option<Receiver<Result<RecordBatch>>>,
    reader: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts reading `batches` on a new thread.
    pub(crate) fn new(batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'static) -> Self {
        Self::spawn(move |ahead| forward(batches, ahead))
    }

    /// Runs `read` on a new thread; it sends the batches, in order, to the sender it is given
    /// (see [`forward`]), and its thread ends when it returns.
    pub(crate) fn spawn(
        read: impl FnOnce(&SyncSender<Result<RecordBatch>>) + Send + 'static,
    ) -> Self {
        let (ahead, queued) = sync_channel::<Result<RecordBatch>>(1);
        let spawned = std::thread::Builder::new()
            .name("ml-core read-ahead".into())
            .spawn(move || read(&ahead));
        match spawned {
            Ok(reader) => ReadAhead {
                queued: Some(queued),
                reader: Some(reader),
            },
            Err(e) => {
                // No thread to be had: the read fails with the reason, as an I/O error would.
                let (tx, rx) = sync_channel(1);
                let _ = tx.send(Err(crate::error::MlError::data(format!(
                    "cannot start a thread to read the batches: {e}"
                ))));
                ReadAhead {
                    queued: Some(rx),
                    reader: None,
                }
            }
        }
    }
}

/// A shared source whose every read runs on a thread of its own, one batch ahead of its
/// consumer: the inner source's reading and whatever it applies per batch (a split, fitted
/// stages) overlap the consumer's own work. The same batches in the same order and the same
/// errors as the inner source (an error opening it comes as the first item of the read); at
/// most two more batches held. Made by [`read_ahead`](super::read_ahead).
#[derive(Debug, Clone)]
pub struct ReadAheadSource {
    inner: Arc<dyn BatchSource>,
}

impl ReadAheadSource {
    /// Reads of `inner`, each on a thread of its own.
    pub fn new(inner: Arc<dyn BatchSource>) -> Self {
        ReadAheadSource { inner }
    }
}

impl BatchSource for ReadAheadSource {
    fn schema(&self) -> Result<SchemaRef> {
        self.inner.schema()
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        Ok(self.read(None))
    }
    /// The inner source's read of `columns`, one batch ahead.
    fn open_columns(&self, columns: &[&str]) -> Result<BatchIter<'_>> {
        Ok(self.read(Some(columns.iter().map(|c| c.to_string()).collect())))
    }
}

impl ReadAheadSource {
    /// A read of the inner source (of only `columns` when given) on a thread of its own.
    fn read(&self, columns: Option<Vec<String>>) -> BatchIter<'_> {
        let inner = self.inner.clone();
        // A caller inside a pool of n threads (a stage's `n_threads`) reads on n threads too.
        let pool = rayon::current_thread_index().map(|_| rayon::current_num_threads());
        Box::new(ReadAhead::spawn(move |ahead| {
            let open = || match &columns {
                Some(c) => inner.open_columns(&c.iter().map(String::as_str).collect::<Vec<_>>()),
                None => inner.open(),
            };
            let read = || match open() {
                Ok(batches) => forward(batches, ahead),
                Err(e) => {
                    let _ = ahead.send(Err(e));
                }
            };
            match pool {
                // `n` was the caller's pool size, so it is a valid thread count.
                Some(n) => {
                    let _ = crate::threads::install(n, read);
                }
                None => read(),
            }
        }))
    }
}

/// Sends the batches of `batches` to `ahead` in order, stopping after the first error or as
/// soon as the receiving side is gone (its consumer stopped reading). The body of every
/// read-ahead thread.
pub(crate) fn forward(
    batches: impl Iterator<Item = Result<RecordBatch>>,
    ahead: &SyncSender<Result<RecordBatch>>,
) {
    for batch in batches {
        let failed = batch.is_err();
        if ahead.send(batch).is_err() || failed {
            return;
        }
    }
}

impl Iterator for ReadAhead {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.queued.as_ref()?.recv().ok()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel stops the reader after the batch it is decoding.
        self.queued = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};

    use super::*;
    use crate::error::MlError;

    fn batch(start: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "n",
            Arc::new(Int64Array::from_iter_values(start..start + 3)) as ArrayRef,
        )])
        .unwrap()
    }

    #[test]
    fn the_same_batches_in_order_and_nothing_after_an_error() {
        let inner = (0..50).map(|i| Ok(batch(i * 3)));
        let got: Vec<RecordBatch> = ReadAhead::new(inner).map(|b| b.unwrap()).collect();
        let expect: Vec<RecordBatch> = (0..50).map(|i| batch(i * 3)).collect();
        assert_eq!(got, expect);

        // An error ends the read, even when the inner iterator would go on.
        let inner = (0..10).map(|i| {
            if i == 4 {
                Err(MlError::data("part 4 is bad"))
            } else {
                Ok(batch(i))
            }
        });
        let got: Vec<Result<RecordBatch>> = ReadAhead::new(inner).collect();
        assert_eq!(got.len(), 5);
        assert!(got[..4].iter().all(|b| b.is_ok()));
        assert!(got[4]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("part 4 is bad"));
    }

    /// A source that cannot be opened.
    #[derive(Debug)]
    struct Unopenable;

    impl BatchSource for Unopenable {
        fn schema(&self) -> Result<SchemaRef> {
            Ok(batch(0).schema())
        }
        fn open(&self) -> Result<BatchIter<'_>> {
            Err(MlError::data("cannot open the unopenable"))
        }
    }

    #[test]
    fn a_source_read_ahead_gives_its_batches_at_every_read_and_its_errors() {
        let batches: Vec<RecordBatch> = (0..20).map(|i| batch(i * 3)).collect();
        let inner = crate::stream::MemorySource::new(batches[0].schema(), batches.clone());
        let ahead = ReadAheadSource::new(Arc::new(inner.unwrap()));
        assert_eq!(ahead.schema().unwrap(), batches[0].schema());
        for _ in 0..2 {
            let got: Vec<RecordBatch> = ahead.open().unwrap().map(|b| b.unwrap()).collect();
            assert_eq!(got, batches);
        }
        // Inside a pool of 3 threads: the same batches.
        let got = crate::threads::install(3, || {
            ahead
                .open()
                .unwrap()
                .map(|b| b.unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
        assert_eq!(got, batches);
        // An error opening the inner source is the read's one item.
        let bad = ReadAheadSource::new(Arc::new(Unopenable));
        let got: Vec<Result<RecordBatch>> = bad.open().unwrap().collect();
        assert_eq!(got.len(), 1);
        assert!(got[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("unopenable"));
    }

    #[test]
    fn dropping_it_early_stops_the_reader() {
        // An endless inner iterator: the drop must still return.
        let mut it = ReadAhead::new((0..).map(|i| Ok(batch(i))));
        assert_eq!(it.next().unwrap().unwrap(), batch(0));
        drop(it);
    }
}
