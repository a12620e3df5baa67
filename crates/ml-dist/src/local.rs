//! [`LocalCollective`]: the world of one rank, where every collective operation is the identity.

use crate::error::{DistError, Result};
use crate::Collective;

/// A collective of one rank (rank 0, world size 1): all-reduces leave the buffer as it is,
/// all-gather returns the rank's own data, broadcast returns the data. Single-node training runs
/// through it, so that it shares one code path with distributed training.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalCollective;

impl LocalCollective {
    /// The one-rank collective.
    pub fn new() -> Self {
        LocalCollective
    }
}

impl Collective for LocalCollective {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum_i64(&self, _values: &mut [i64]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_sum_i128(&self, _values: &mut [i128]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_max_f64(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_max_i64(&self, _values: &mut [i64]) -> Result<()> {
        Ok(())
    }

    fn all_gather(&self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![data.to_vec()])
    }

    fn broadcast(&self, root: usize, data: &[u8]) -> Result<Vec<u8>> {
        if root != 0 {
            return Err(DistError::param(
                "root",
                format!("root {root} is not a rank; the world has rank 0 only"),
            ));
        }
        Ok(data.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_identities() {
        let c = LocalCollective::new();
        assert_eq!((c.rank(), c.world_size()), (0, 1));
        let mut v = vec![3i64, -4];
        c.all_reduce_sum_i64(&mut v).unwrap();
        c.all_reduce_max_i64(&mut v).unwrap();
        assert_eq!(v, [3, -4]);
        assert_eq!(c.all_gather(b"ab").unwrap(), vec![b"ab".to_vec()]);
        assert_eq!(c.broadcast(0, b"x").unwrap(), b"x");
        assert!(matches!(c.broadcast(1, b"x"), Err(DistError::Param { .. })));
        c.barrier().unwrap();
    }
}
