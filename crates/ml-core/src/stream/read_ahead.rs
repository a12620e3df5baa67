//! [`ReadAhead`]: batches decoded on a thread of their own, one ahead of their consumer.
//!
//! A Parquet read decodes (decompresses, unpacks dictionaries) on the thread that asks for the
//! next batch, so a consumer that does its own work per batch (a split, a transform, a
//! sampler) alternates with the decoding instead of overlapping it. [`ReadAhead`] moves the
//! decoding to a thread that keeps one batch ready: the same batches in the same order, the
//! same errors, at most two more batches held.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use arrow::record_batch::RecordBatch;

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
        let (ahead, queued) = sync_channel::<Result<RecordBatch>>(1);
        let spawned = std::thread::Builder::new()
            .name("ml-core read-ahead".into())
            .spawn(move || forward(batches, &ahead));
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

    #[test]
    fn dropping_it_early_stops_the_reader() {
        // An endless inner iterator: the drop must still return.
        let mut it = ReadAhead::new((0..).map(|i| Ok(batch(i))));
        assert_eq!(it.next().unwrap().unwrap(), batch(0));
        drop(it);
    }
}
