//! Training through a `Collective`, or from a stream of batches, gives the model of `fit` on
//! all rows, byte for byte, whatever the number of workers and however the rows are split:
//! world sizes 1-4 on threads and 2-3 on a TCP ring over 127.0.0.1; shards contiguous,
//! round-robin, shuffled, or with an empty one; each odd-ranked worker streaming its shard in
//! batches (`fit_source_with`), the others fitting it in memory; one process streaming all
//! rows in batches of 1, 97 or all rows; the bins in the compact layout and the fast one
//! (`bin_layout`); depthwise and lossguide, monotone and interaction
//! constraints, categorical slots, missing values, weights, row and
//! column sampling, multiclass, an evaluation set with early stopping. And a worker that drops
//! out midway makes the others fail within the timeout instead of hanging.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::stream::MemorySource;
use ml_core::{Dataset, Estimator, MlError, ParamValue, Params};
use ml_dist::{Collective, DistError, TcpRing, TcpRingConfig, ThreadCollective};
use ml_tree::{BinLayout, GradientBoostedTrees};

/// What a label is made of.
#[derive(Clone, Copy)]
enum Label {
    Binary,
    Real,
    Classes(usize),
    /// Positive reals (for the log-link losses).
    Positive,
}

/// Rows of 5 features (slot 2 with ~12% NaN, slot 3 integer codes 0..100, slot 4 a code of 9
/// categories, marked nominal when `nominal`), labels and weights (every fifth row with
/// weight 0), kept as plain vectors so that any subset of rows can become a dataset.
struct Rows {
    x: Vec<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
    nominal: bool,
}

const D: usize = 5;

impl Rows {
    fn new(n: usize, seed: u64, label: Label, nominal: bool) -> Rows {
        let effect = [1.2, -0.8, 0.1, 1.9, -1.6, 0.4, 0.9, -0.3, 0.6];
        let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let u = |k: u64| unit_uniform(seed, i as u64 * 16 + k);
            let a = (u(0) * 40.0).floor() / 10.0 - 2.0;
            let b = u(1) * 4.0 - 2.0;
            let c = if u(2) < 0.12 { f64::NAN } else { u(3) * 10.0 };
            let e = (u(4) * 100.0).floor();
            let k = (u(5) * 9.0).floor();
            x.extend([a, b, c, e, k]);
            let z = a * 1.2 - b * b * 0.5
                + if c.is_nan() { 1.0 } else { (c - 5.0) * 0.2 }
                + effect[k as usize]
                + (e - 50.0) * 0.01;
            y.push(match label {
                Label::Binary => (u(6) < 1.0 / (1.0 + (-z).exp())) as i32 as f64,
                Label::Real => z + u(6) - 0.5,
                Label::Positive => (0.4 * z).exp() * (0.5 + u(6)),
                Label::Classes(m) => ((z + 3.0 + u(6)).max(0.0) as usize).min(m - 1) as f64,
            });
            w.push(if i % 5 == 3 { 0.0 } else { 0.25 + 2.0 * u(7) });
        }
        Rows { x, y, w, nominal }
    }

    fn len(&self) -> usize {
        self.y.len()
    }

    /// The listed rows, in that order, as a dataset (`features`, `label`, `w`).
    fn dataset(&self, rows: &[usize]) -> Dataset {
        let n = rows.len();
        let x: Vec<f64> = rows
            .iter()
            .flat_map(|&r| self.x[r * D..(r + 1) * D].iter().copied())
            .collect();
        let mut field = Field::new("features", vector_type(D), false);
        if self.nominal {
            let mut attrs: Vec<Attribute> = ["a", "b", "c", "e"]
                .iter()
                .map(|s| Attribute::numeric(*s))
                .collect();
            attrs.push(Attribute::Nominal {
                name: Some("k".into()),
                num_values: 9,
                values: None,
            });
            field = with_vector_attributes(field, &attrs);
        }
        let y: Vec<f64> = rows.iter().map(|&r| self.y[r]).collect();
        let w: Vec<f64> = rows.iter().map(|&r| self.w[r]).collect();
        Dataset::from_fields(
            vec![
                field,
                Field::new("label", DataType::Float64, false),
                Field::new("w", DataType::Float64, false),
            ],
            vec![
                vector_column_from_vec(x, n, D),
                Arc::new(Float64Array::from(y)) as ArrayRef,
                Arc::new(Float64Array::from(w)) as ArrayRef,
            ],
        )
        .unwrap()
    }

    fn all(&self) -> Dataset {
        self.dataset(&(0..self.len()).collect::<Vec<_>>())
    }
}

/// How rows are split between workers.
#[derive(Debug, Clone, Copy)]
enum Sharding {
    Contiguous,
    RoundRobin,
    Shuffled,
    /// Worker 0 gets no rows, the others contiguous parts.
    FirstEmpty,
}

const SHARDINGS: [Sharding; 4] = [
    Sharding::Contiguous,
    Sharding::RoundRobin,
    Sharding::Shuffled,
    Sharding::FirstEmpty,
];

/// A permutation of `0..n` from a seed (Fisher-Yates over SplitMix64).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    let mut s = seed;
    for i in (1..n).rev() {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        p.swap(i, (z % (i as u64 + 1)) as usize);
    }
    p
}

/// The rows of each of `world` workers.
fn shards(n: usize, world: usize, how: Sharding) -> Vec<Vec<usize>> {
    let contiguous = |rows: &[usize], parts: usize| -> Vec<Vec<usize>> {
        let size = rows.len().div_ceil(parts);
        (0..parts)
            .map(|p| rows[(p * size).min(rows.len())..((p + 1) * size).min(rows.len())].to_vec())
            .collect()
    };
    let all: Vec<usize> = (0..n).collect();
    match how {
        Sharding::Contiguous => contiguous(&all, world),
        Sharding::RoundRobin => (0..world)
            .map(|r| all.iter().copied().skip(r).step_by(world).collect())
            .collect(),
        Sharding::Shuffled => contiguous(&permutation(n, 42 + world as u64), world),
        // (One worker cannot have an empty shard: it gets every row.)
        Sharding::FirstEmpty if world == 1 => vec![all],
        Sharding::FirstEmpty => {
            let mut s = vec![Vec::new()];
            s.extend(contiguous(&all, world - 1));
            s
        }
    }
}

/// Which transport the workers use.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Threads,
    Tcp,
}

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `body(rank, collective)` on `world` workers, one thread each, and returns each
/// worker's result in rank order.
fn run_workers<R: Send>(
    kind: Kind,
    world: usize,
    timeout: Duration,
    body: impl Fn(usize, Box<dyn Collective>) -> Result<R, MlError> + Sync,
) -> Vec<Result<R, MlError>> {
    match kind {
        Kind::Threads => {
            let group = ThreadCollective::group_with_timeout(world, timeout).unwrap();
            thread::scope(|s| {
                let handles: Vec<_> = group
                    .into_iter()
                    .enumerate()
                    .map(|(rank, member)| {
                        let body = &body;
                        s.spawn(move || body(rank, Box::new(member)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        }
        Kind::Tcp => {
            let listeners: Vec<TcpListener> = (0..world)
                .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
                .collect();
            let addresses: Vec<String> = listeners
                .iter()
                .map(|l| l.local_addr().unwrap().to_string())
                .collect();
            thread::scope(|s| {
                let handles: Vec<_> = listeners
                    .into_iter()
                    .enumerate()
                    .map(|(rank, listener)| {
                        let config = TcpRingConfig::new("gbdt-test", 0, rank, addresses.clone())
                            .with_timeout(timeout)
                            .with_connect_timeout(timeout);
                        let body = &body;
                        s.spawn(move || {
                            let ring = TcpRing::connect_with_listener(listener, &config)?;
                            body(rank, Box::new(ring))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        }
    }
}

/// The saved model document (ml-core's persistence format) as bytes.
fn model_bytes(model: &ml_tree::GradientBoostedTreesModel) -> Vec<u8> {
    ml_core::persist::to_json(model).unwrap().into_bytes()
}

/// An estimator with parameters set by name.
fn estimator(params: &[(&str, ParamValue)]) -> GradientBoostedTrees {
    let mut gbt = GradientBoostedTrees::default();
    for (name, v) in params {
        gbt.set_param(name, v.clone()).unwrap();
    }
    gbt
}

/// Rows per batch of a streamed shard.
const STREAM_BATCH: usize = 97;

/// Checks that every worker of every world size and sharding returns `fit`'s model bytes (and
/// that `fit` on the rows shuffled, and `fit_source` in batches, give them too).
fn check_matrix(
    rows: &Rows,
    params: &[(&str, ParamValue)],
    kind: Kind,
    worlds: &[usize],
    shardings: &[Sharding],
) {
    check_matrix_of(rows, &estimator(params), kind, worlds, shardings)
}

/// [`check_matrix`] for an estimator built by the caller (one continuing a model, say).
fn check_matrix_of(
    rows: &Rows,
    gbt: &GradientBoostedTrees,
    kind: Kind,
    worlds: &[usize],
    shardings: &[Sharding],
) {
    let expected = model_bytes(&gbt.fit(&rows.all()).unwrap());
    let shuffled = rows.dataset(&permutation(rows.len(), 7));
    assert!(
        model_bytes(&gbt.fit(&shuffled).unwrap()) == expected,
        "fit on shuffled rows differs"
    );
    for batch_rows in [1, STREAM_BATCH, rows.len()] {
        let source = MemorySource::from_dataset(&rows.all(), batch_rows).unwrap();
        assert!(
            model_bytes(&gbt.fit_source(&source).unwrap()) == expected,
            "fit_source in batches of {batch_rows} rows differs from fit"
        );
    }
    // The compact layout of the bins (no column-major copy, no joint slots) and the fast one.
    for layout in [BinLayout::Compact, BinLayout::Fast] {
        let gbt = gbt.clone().with_bin_layout(layout);
        assert!(
            model_bytes(&gbt.fit(&rows.all()).unwrap()) == expected,
            "fit with bin_layout {layout} differs from fit"
        );
        let source = MemorySource::from_dataset(&rows.all(), STREAM_BATCH).unwrap();
        assert!(
            model_bytes(&gbt.fit_source(&source).unwrap()) == expected,
            "fit_source with bin_layout {layout} differs from fit"
        );
    }
    for &world in worlds {
        for &how in shardings {
            let parts: Vec<Dataset> = shards(rows.len(), world, how)
                .iter()
                .map(|s| rows.dataset(s))
                .collect();
            let out = run_workers(kind, world, TIMEOUT, |rank, c| {
                let model = if rank % 2 == 1 {
                    let source = MemorySource::from_dataset(&parts[rank], STREAM_BATCH)?;
                    gbt.fit_source_with(&source, c.as_ref())
                } else {
                    gbt.fit_with(&parts[rank], c.as_ref())
                };
                model.map(|m| model_bytes(&m))
            });
            for (rank, got) in out.into_iter().enumerate() {
                let got =
                    got.unwrap_or_else(|e| panic!("{kind:?} {world} {how:?} rank {rank}: {e}"));
                assert!(
                    got == expected,
                    "{kind:?} world {world} {how:?} rank {rank}: model differs from fit's"
                );
            }
        }
    }
}

fn int(v: i64) -> ParamValue {
    ParamValue::Int(v)
}
fn float(v: f64) -> ParamValue {
    ParamValue::Float(v)
}
fn s(v: &str) -> ParamValue {
    ParamValue::Str(v.into())
}

#[test]
fn binary_depthwise_with_missing_values_equals_fit_on_threads() {
    let rows = Rows::new(900, 1, Label::Binary, false);
    let params = [("num_round", int(5)), ("max_depth", int(4))];
    check_matrix(&rows, &params, Kind::Threads, &[1, 2, 3, 4], &SHARDINGS);
}

#[test]
fn lossguide_categorical_weighted_sampled_equals_fit_on_threads() {
    let rows = Rows::new(800, 2, Label::Binary, true);
    let params = [
        ("num_round", int(4)),
        ("grow_policy", s("lossguide")),
        ("max_leaves", int(7)),
        ("max_depth", int(0)),
        ("weight_col", s("w")),
        ("subsample", float(0.7)),
        ("colsample_bytree", float(0.6)),
        ("max_cat_to_onehot", int(4)),
        ("seed", int(11)),
    ];
    check_matrix(&rows, &params, Kind::Threads, &[1, 2, 3, 4], &SHARDINGS);
}

#[test]
fn monotone_and_interaction_constrained_equals_fit_on_threads() {
    let rows = Rows::new(800, 5, Label::Binary, true);
    for policy in ["depthwise", "lossguide"] {
        let params = [
            ("num_round", int(4)),
            ("grow_policy", s(policy)),
            ("max_leaves", int(9)),
            ("max_depth", int(4)),
            ("weight_col", s("w")),
            ("monotone_constraints", s("(1,-1,0,1)")),
            ("interaction_constraints", s("[[0,1,4],[2,3]]")),
        ];
        check_matrix(&rows, &params, Kind::Threads, &[1, 2, 3], &SHARDINGS);
    }
}

#[test]
fn multiclass_categorical_equals_fit_on_threads() {
    let rows = Rows::new(600, 3, Label::Classes(3), true);
    let params = [
        ("num_round", int(3)),
        ("max_depth", int(3)),
        ("num_class", int(3)),
        ("objective", s("multi:softmax")),
    ];
    check_matrix(&rows, &params, Kind::Threads, &[2, 3, 4], &SHARDINGS);
}

#[test]
fn weighted_regression_with_few_bins_equals_fit_on_threads() {
    let rows = Rows::new(700, 4, Label::Real, true);
    let params = [
        ("num_round", int(4)),
        ("objective", s("reg:squarederror")),
        ("weight_col", s("w")),
        ("max_bin", int(16)),
        ("min_child_weight", float(3.0)),
    ];
    check_matrix(&rows, &params, Kind::Threads, &[2, 4], &SHARDINGS);
}

#[test]
fn adaptive_losses_weighted_and_sampled_equal_fit_on_threads() {
    // Absolute and quantile error: base scores and leaf values are quantiles over every
    // worker's rows, exactly.
    let rows = Rows::new(700, 5, Label::Real, true);
    for obj in [
        vec![("objective", s("reg:absoluteerror"))],
        vec![
            ("objective", s("reg:quantileerror")),
            ("quantile_alpha", ParamValue::FloatList(vec![0.1, 0.5, 0.9])),
        ],
    ] {
        let mut params = vec![
            ("num_round", int(3)),
            ("max_depth", int(4)),
            ("weight_col", s("w")),
            ("subsample", float(0.8)),
            ("seed", int(3)),
        ];
        params.extend(obj);
        check_matrix(&rows, &params, Kind::Threads, &[1, 2, 3], &SHARDINGS);
        // Unweighted too (interpolated quantiles).
        params.retain(|(n, _)| *n != "weight_col");
        check_matrix(&rows, &params, Kind::Threads, &[2, 3], &SHARDINGS[..2]);
    }
}

#[test]
fn smooth_regression_losses_equal_fit_on_threads() {
    let rows = Rows::new(600, 6, Label::Positive, false);
    for obj in [
        "reg:pseudohubererror",
        "count:poisson",
        "reg:tweedie",
        "reg:gamma",
    ] {
        let params = [
            ("num_round", int(3)),
            ("max_depth", int(3)),
            ("objective", s(obj)),
            ("weight_col", s("w")),
        ];
        check_matrix(&rows, &params, Kind::Threads, &[2, 3], &SHARDINGS[..3]);
    }
}

#[test]
fn continued_training_equals_fit_on_threads() {
    let rows = Rows::new(600, 8, Label::Real, true);
    let params = [
        ("num_round", int(2)),
        ("max_depth", int(3)),
        ("objective", s("reg:absoluteerror")),
        ("subsample", float(0.8)),
    ];
    let first = estimator(&params).fit(&rows.all()).unwrap();
    let gbt = estimator(&params).with_xgb_model(first);
    check_matrix_of(&rows, &gbt, Kind::Threads, &[2, 3], &SHARDINGS[..2]);
}

#[test]
fn tcp_ring_of_two_and_three_workers_equals_fit() {
    let rows = Rows::new(700, 5, Label::Binary, true);
    let params = [
        ("num_round", int(4)),
        ("max_depth", int(4)),
        ("weight_col", s("w")),
    ];
    check_matrix(
        &rows,
        &params,
        Kind::Tcp,
        &[2, 3],
        &[Sharding::RoundRobin, Sharding::FirstEmpty],
    );
    let lossguide = [
        ("num_round", int(3)),
        ("grow_policy", s("lossguide")),
        ("max_leaves", int(6)),
    ];
    check_matrix(&rows, &lossguide, Kind::Tcp, &[3], &[Sharding::Shuffled]);
}

#[test]
fn evaluation_history_and_early_stopping_are_global() {
    let rows = Rows::new(800, 6, Label::Binary, true);
    let eval = Rows::new(300, 7, Label::Binary, true);
    let params = [
        ("num_round", int(30)),
        ("eta", float(0.6)),
        ("max_depth", int(4)),
        ("eval_metric", s("auc")),
        ("early_stopping_rounds", int(2)),
    ];
    let gbt = estimator(&params).with_eval_set(eval.all());
    let (model, history) = gbt.fit_with_history(&rows.all()).unwrap();
    let expected = model_bytes(&model);
    assert!(model.best_iteration.is_some(), "early stopping happened");
    for world in [2, 3] {
        let train = shards(rows.len(), world, Sharding::Shuffled);
        let ev = shards(eval.len(), world, Sharding::RoundRobin);
        let out = run_workers(Kind::Threads, world, TIMEOUT, |rank, c| {
            let gbt = estimator(&params).with_eval_set(eval.dataset(&ev[rank]));
            gbt.fit_with_history_on(&rows.dataset(&train[rank]), c.as_ref())
                .map(|(m, h)| (model_bytes(&m), h))
        });
        for r in out {
            let (bytes, h) = r.unwrap();
            assert!(bytes == expected, "world {world}: model differs");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&h), bits(&history), "world {world}: history differs");
        }
    }
}

#[test]
fn workers_with_different_parameters_or_bad_data_all_fail() {
    let rows = Rows::new(300, 8, Label::Binary, false);
    let parts = shards(rows.len(), 2, Sharding::Contiguous);
    // Rank 1 trains deeper trees: both see the mismatch.
    let out = run_workers(Kind::Threads, 2, TIMEOUT, |rank, c| {
        let depth = if rank == 0 { 3 } else { 4 };
        estimator(&[("max_depth", int(depth)), ("num_round", int(2))])
            .fit_with(&rows.dataset(&parts[rank]), c.as_ref())
    });
    for r in out {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("parameters"), "{e}");
    }
    // Rank 0's labels are not binary: it reports the row, rank 1 that another worker failed.
    let real = Rows::new(300, 9, Label::Real, false);
    let out = run_workers(Kind::Threads, 2, TIMEOUT, |rank, c| {
        let data = if rank == 0 {
            real.dataset(&parts[0])
        } else {
            rows.dataset(&parts[1])
        };
        estimator(&[("num_round", int(2))]).fit_with(&data, c.as_ref())
    });
    assert!(out[0].as_ref().unwrap_err().to_string().contains("label"));
    assert!(out[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("another worker"));
}

/// A collective that works for `limit` calls and then drops its connection and fails, as a
/// worker that dies midway.
struct DiesAfter {
    inner: Mutex<Option<Box<dyn Collective>>>,
    calls: AtomicUsize,
    limit: usize,
    rank: usize,
    world: usize,
}

impl DiesAfter {
    fn new(inner: Box<dyn Collective>, limit: usize) -> Self {
        DiesAfter {
            rank: inner.rank(),
            world: inner.world_size(),
            inner: Mutex::new(Some(inner)),
            calls: AtomicUsize::new(0),
            limit,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&dyn Collective) -> ml_dist::Result<T>) -> ml_dist::Result<T> {
        let mut inner = self.inner.lock().unwrap();
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.limit {
            // Dropping the connection is what the peers see of a dead worker.
            inner.take();
        }
        match inner.as_deref() {
            Some(c) => f(c),
            None => Err(DistError::param("test", "this worker died")),
        }
    }
}

impl Collective for DiesAfter {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world_size(&self) -> usize {
        self.world
    }
    fn all_reduce_sum_i64(&self, v: &mut [i64]) -> ml_dist::Result<()> {
        self.with(|c| c.all_reduce_sum_i64(v))
    }
    fn all_reduce_sum_i128(&self, v: &mut [i128]) -> ml_dist::Result<()> {
        self.with(|c| c.all_reduce_sum_i128(v))
    }
    fn all_reduce_max_f64(&self, v: &mut [f64]) -> ml_dist::Result<()> {
        self.with(|c| c.all_reduce_max_f64(v))
    }
    fn all_reduce_max_i64(&self, v: &mut [i64]) -> ml_dist::Result<()> {
        self.with(|c| c.all_reduce_max_i64(v))
    }
    fn all_gather(&self, data: &[u8]) -> ml_dist::Result<Vec<Vec<u8>>> {
        self.with(|c| c.all_gather(data))
    }
    fn broadcast(&self, root: usize, data: &[u8]) -> ml_dist::Result<Vec<u8>> {
        self.with(|c| c.broadcast(root, data))
    }
}

#[test]
fn a_worker_dying_midway_makes_every_worker_fail_within_the_timeout() {
    let rows = Rows::new(600, 10, Label::Binary, false);
    let timeout = Duration::from_secs(3);
    for kind in [Kind::Threads, Kind::Tcp] {
        let parts = shards(rows.len(), 3, Sharding::RoundRobin);
        let start = Instant::now();
        let out = run_workers(kind, 3, timeout, |rank, c| {
            // Rank 1 dies after 25 collective calls, in the middle of the second tree.
            let c: Box<dyn Collective> = if rank == 1 {
                Box::new(DiesAfter::new(c, 25))
            } else {
                c
            };
            estimator(&[("num_round", int(20)), ("max_depth", int(5))])
                .fit_with(&rows.dataset(&parts[rank]), c.as_ref())
        });
        let took = start.elapsed();
        for (rank, r) in out.iter().enumerate() {
            assert!(r.is_err(), "{kind:?}: rank {rank} did not fail");
        }
        assert!(
            took < timeout * 3 + Duration::from_secs(5),
            "{kind:?}: took {took:?}"
        );
    }
}
