//! Boosted trees on a Spark barrier stage: one rank's fit ([`train_gbt`]), the listener its
//! peers connect to ([`Listener`]), and scoring ([`Model`]).

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array, Float64Builder, ListBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow::pyarrow::PyArrowType;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use ml_core::feature::{HandleInvalid, VectorAssembler};
use ml_core::stream::{category_counts, MemorySource, TransformedSource};
use ml_core::{persist, Dataset, MlError, Params, Transformer};
use ml_dist::{Collective, LocalCollective, TcpRing, TcpRingConfig};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel, Objective};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{param_json, param_value, py_err};

/// The parameters the Python estimators leave to Spark's own column parameters or do not
/// offer (evaluation sets are not supported on Spark).
const COLUMN_PARAMS: &[&str] = &[
    "features_col",
    "label_col",
    "weight_col",
    "validation_indicator_col",
    "base_margin_col",
    "raw_prediction_col",
    "probability_col",
    "prediction_col",
    "eval_metric",
    "early_stopping_rounds",
];

/// Every training parameter of `GradientBoostedTrees` but the column ones: `(name, doc,
/// default as JSON)`, in the order the library lists them.
#[pyfunction]
pub fn gbt_param_specs() -> Vec<(String, String, String)> {
    GradientBoostedTrees::new()
        .param_specs()
        .into_iter()
        .filter(|s| !COLUMN_PARAMS.contains(&s.name.as_str()))
        .map(|s| {
            let default = param_json(&s.default).to_string();
            (s.name, s.doc.to_string(), default)
        })
        .collect()
}

/// The estimator of `params_json` (a JSON object of parameter name -> value, names as
/// [`gbt_param_specs`] lists them or their aliases). Parameters are set one at a time and
/// each set is validated, so a value that is only valid together with a later one is retried
/// once the others are set.
fn estimator(params_json: &str) -> Result<GradientBoostedTrees, MlError> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(params_json)
        .map_err(|e| MlError::param("params", format!("not a JSON object: {e}")))?;
    let mut gbt = GradientBoostedTrees::new();
    let mut pending: Vec<(&String, &serde_json::Value)> = map.iter().collect();
    for _ in 0..3 {
        let mut failed = Vec::new();
        let mut last_err = None;
        for (k, v) in pending {
            if COLUMN_PARAMS.contains(&ml_core::params::normalize_param_name(k).as_str()) {
                return Err(MlError::param(
                    k.as_str(),
                    "is a column parameter: set it with the estimator's Spark-style column \
                     parameters (labelCol, weightCol, ...)",
                ));
            }
            if let Err(e) = gbt.set_param(k, param_value(k, v)?) {
                failed.push((k, v));
                last_err = Some(e);
            }
        }
        pending = failed;
        if pending.is_empty() {
            gbt.validate()?;
            return Ok(gbt);
        }
        if let Some(e) = last_err.filter(|_| pending.len() == map.len()) {
            return Err(e);
        }
    }
    let (k, v) = pending[0];
    gbt.set_param(k, param_value(k, v)?)?;
    gbt.validate()?;
    Ok(gbt)
}

/// Checks the parameters of `params_json` on the driver, before any task starts: raises
/// `ValueError` naming the parameter at fault.
#[pyfunction]
pub fn check_gbt_params(params_json: &str) -> PyResult<()> {
    estimator(params_json).map(|_| ()).map_err(py_err)
}

/// A TCP listener bound before the ranks exchange addresses (Spark's
/// `BarrierTaskContext.allGather`): bind on port 0, publish `host:port`, then hand it to
/// [`train_gbt`], which opens the ring on it.
#[pyclass(frozen)]
pub struct Listener {
    inner: Mutex<Option<TcpListener>>,
    port: u16,
}

#[pymethods]
impl Listener {
    /// Binds `host` (e.g. `0.0.0.0`) on a free port.
    #[new]
    fn new(host: &str) -> PyResult<Self> {
        let l = TcpListener::bind((host, 0)).map_err(|e| {
            PyRuntimeError::new_err(format!("cannot listen on {host} (any port): {e}"))
        })?;
        let port = l
            .local_addr()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?
            .port();
        Ok(Listener {
            inner: Mutex::new(Some(l)),
            port,
        })
    }

    /// The port it listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }
}

impl Listener {
    fn take(&self) -> PyResult<TcpListener> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("listener lock poisoned"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this listener was already used by a fit"))
    }
}

/// The assembler `train_gbdt` builds: `features` into the vector column `features`,
/// `categorical` marked nominal with `counts` categories, nulls kept as NaN.
fn assembler(features: &[String], categorical: &[String], counts: &[usize]) -> VectorAssembler {
    let inputs: Vec<&str> = features.iter().map(String::as_str).collect();
    let cats: Vec<&str> = categorical.iter().map(String::as_str).collect();
    VectorAssembler::new(&inputs, "features")
        .with_categorical_cols(&cats)
        .with_category_counts(counts)
        .with_handle_invalid(HandleInvalid::Keep)
}

/// What one rank of a fit needs besides its rows.
struct Job {
    gbt: GradientBoostedTrees,
    features: Vec<String>,
    categorical: Vec<String>,
    ring: TcpRingConfig,
    exit_at_round: Option<usize>,
    /// This rank's row count.
    rows: usize,
}

/// The threads rank `rank` trains with, given every rank's row count and the threads each
/// rank was given (`per_rank`, Spark's `spark.task.cpus` unless set): the `per_rank x
/// world` threads of the stage are shared among the ranks that hold rows in proportion to
/// their rows (at least one each); a rank without rows keeps one thread, which only waits
/// on the others. Balanced ranks keep `per_rank` each; a rank holding every row of a
/// two-rank stage (Spark often reads a one-row-group Parquet file into one full and one
/// empty partition) trains on both cores instead of leaving one idle. The model does not
/// depend on the number of threads.
fn threads_for_rank(rows: &[i64], rank: usize, per_rank: usize) -> usize {
    let per_rank = per_rank.max(1);
    let total: i128 = rows.iter().map(|&r| r.max(0) as i128).sum();
    let mine = rows.get(rank).copied().unwrap_or(0).max(0) as i128;
    if total == 0 || mine == 0 {
        return 1;
    }
    let budget = (per_rank * rows.len()) as i128;
    // Rounded to the nearest thread count.
    let share = (2 * budget * mine + total) / (2 * total);
    (share as usize).max(1)
}

/// What one rank's fit ends with.
enum RankFit {
    /// The model, returned to the driver by this rank: rank 0 of a ring, or the rank that
    /// trained alone.
    Model(Box<GradientBoostedTreesModel>),
    /// This rank took part in the ring, or stepped aside; another rank returns the model.
    Peer,
}

/// The rank that trains alone, given every rank's row count: when exactly one rank of
/// several holds rows, it trains with the world-1 collective and every stage thread, and the
/// others step aside, since a rank without rows adds no term to any sum. The model is the
/// same bytes as a ring fit (it does not depend on how the rows are split); this skips the
/// ~1,500 collective calls per fit that the lone holder would otherwise make with idle peers.
/// `None`: train in the ring (several ranks hold rows, or none does and every rank reports
/// the empty data).
fn lone_holder(rows: &[i64]) -> Option<usize> {
    let mut holders = rows.iter().enumerate().filter(|(_, &r)| r > 0);
    match (holders.next(), holders.next()) {
        (Some((rank, _)), None) if rows.len() > 1 => Some(rank),
        _ => None,
    }
}

/// One rank's fit: open the ring, agree on category counts, train on the shard.
fn fit_rank(job: Job, listener: TcpListener, source: MemorySource) -> Result<RankFit, MlError> {
    let ring = TcpRing::connect_with_listener(listener, &job.ring)?;
    // Every rank's row count: the threads of ranks without rows go to those with rows.
    let mut rows = vec![0i64; ring.world_size()];
    rows[ring.rank()] = i64::try_from(job.rows).unwrap_or(i64::MAX);
    ring.all_reduce_sum_i64(&mut rows)?;
    let mut gbt = job.gbt;
    gbt.n_threads = threads_for_rank(&rows, ring.rank(), gbt.n_threads);
    let alone = lone_holder(&rows);
    if alone.is_some_and(|holder| holder != ring.rank()) {
        return Ok(RankFit::Peer);
    }
    let single = LocalCollective::new();
    let collective: &dyn Collective = if alone.is_some() { &single } else { &ring };
    // Category counts over every rank's rows (train_gbdt counts them over the whole file).
    let counts = if job.categorical.is_empty() {
        Vec::new()
    } else {
        let cats: Vec<&str> = job.categorical.iter().map(String::as_str).collect();
        let local = category_counts(&source, &cats)?;
        let mut all: Vec<i64> = local.iter().map(|&c| c as i64).collect();
        collective.all_reduce_max_i64(&mut all)?;
        all.into_iter().map(|c| c as usize).collect()
    };
    let source = TransformedSource::new(
        Arc::new(source),
        Box::new(assembler(&job.features, &job.categorical, &counts)),
    );
    if let Some(r) = job.exit_at_round {
        // Test hook: this process dies after round `r`, as a lost executor would.
        gbt = gbt.with_callback(move |info| {
            if info.round + 1 >= r {
                std::process::exit(17);
            }
            true
        });
    }
    let model = gbt.fit_source_with(&source, collective)?;
    if alone.is_some() || ring.rank() == 0 {
        Ok(RankFit::Model(Box::new(model)))
    } else {
        Ok(RankFit::Peer)
    }
}

/// Trains one rank of a data-parallel fit on the task's rows and returns `(rows, model)`: the
/// model's file bytes (the format of `train_gbdt --model-out`) on the rank that returns the
/// model (rank 0, or the only rank holding rows, which trains alone), `None` on the others.
///
/// `batches` is the task's Arrow stream (a `pyarrow.RecordBatchReader` or anything with
/// `__arrow_c_stream__`); its arrays are imported without copying. `addresses` lists every
/// rank's `host:port` in rank order; `listener` is this rank's, already bound. Raises
/// `ValueError` for bad parameters or data and `RuntimeError` for the rest (a peer lost or
/// silent for `timeout_s`, another rank's failure).
#[pyfunction]
#[pyo3(signature = (batches, params_json, label, features, categorical, weight, n_threads,
    rank, addresses, listener, job_id, attempt, timeout_s=30.0, connect_timeout_s=60.0,
    exit_at_round=None))]
#[allow(clippy::too_many_arguments)]
pub fn train_gbt(
    py: Python<'_>,
    batches: PyArrowType<ArrowArrayStreamReader>,
    params_json: &str,
    label: String,
    features: Vec<String>,
    categorical: Vec<String>,
    weight: Option<String>,
    n_threads: usize,
    rank: usize,
    addresses: Vec<String>,
    listener: &Listener,
    job_id: String,
    attempt: u64,
    timeout_s: f64,
    connect_timeout_s: f64,
    exit_at_round: Option<usize>,
) -> PyResult<(usize, Option<Py<PyBytes>>)> {
    let mut gbt = estimator(params_json).map_err(py_err)?;
    gbt.label_col = label;
    gbt.weight_col = weight;
    gbt.features_col = "features".into();
    gbt.n_threads = n_threads;
    if !(timeout_s > 0.0 && connect_timeout_s > 0.0) {
        return Err(PyValueError::new_err(format!(
            "timeouts must be positive, got {timeout_s} and {connect_timeout_s}"
        )));
    }
    let ring = TcpRingConfig::new(job_id, attempt, rank, addresses)
        .with_timeout(Duration::from_secs_f64(timeout_s))
        .with_connect_timeout(Duration::from_secs_f64(connect_timeout_s));
    // The batches are read with the GIL held (pyarrow's stream pulls from Python); their
    // buffers are shared, not copied.
    let reader = batches.0;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| PyRuntimeError::new_err(format!("reading the task's Arrow batches: {e}")))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let source = MemorySource::new(schema, batches).map_err(py_err)?;
    let listener = listener.take()?;
    let job = Job {
        gbt,
        features,
        categorical,
        ring,
        exit_at_round,
        rows,
    };
    let fitted = py.detach(move || -> Result<Option<Vec<u8>>, MlError> {
        match fit_rank(job, listener, source)? {
            RankFit::Model(model) => Ok(Some(persist::to_json(model.as_ref())?.into_bytes())),
            RankFit::Peer => Ok(None),
        }
    });
    let bytes = fitted.map_err(py_err)?;
    Ok((rows, bytes.map(|b| PyBytes::new(py, &b).unbind())))
}

/// A fitted model, for scoring batches on the executors and for its properties on the driver.
#[pyclass(frozen)]
pub struct Model {
    model: GradientBoostedTreesModel,
}

#[pymethods]
impl Model {
    /// Reads a model from the bytes of a model file (`train_gbdt --model-out`, or a fit).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Model> {
        let text = std::str::from_utf8(data)
            .map_err(|e| PyValueError::new_err(format!("not a model file: {e}")))?;
        let any = persist::from_json(text, Path::new("<bytes>")).map_err(py_err)?;
        let model = any
            .as_any()
            .downcast_ref::<GradientBoostedTreesModel>()
            .cloned()
            .ok_or_else(|| {
                PyValueError::new_err("the file holds another kind of model than boosted trees")
            })?;
        Ok(Model { model })
    }

    /// The objective's name (`binary:logistic`, `multi:softmax`, `reg:squarederror`, ...).
    #[getter]
    fn objective(&self) -> String {
        self.model.objective.to_string()
    }

    /// Outputs per row (classes for multiclass).
    #[getter]
    fn num_class(&self) -> usize {
        self.model.num_class
    }

    /// Width of the feature vectors.
    #[getter]
    fn num_features(&self) -> usize {
        self.model.num_features
    }

    /// Names of the feature slots (the feature columns).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.model.feature_names.clone()
    }

    /// Number of boosting rounds.
    #[getter]
    fn num_rounds(&self) -> usize {
        self.model.num_rounds()
    }

    /// Scores `batch`: the columns `features` (numeric, nulls as missing) as the feature vector,
    /// and returns the batch with the output columns appended: binary: `raw_col` (margin),
    /// `prob_col` (P(class 1)), `pred_col` (0/1), all doubles; multiclass: `raw_col` and
    /// `prob_col` as lists of doubles, `pred_col` the class; regression: `pred_col` only.
    /// `None` leaves a column out.
    #[pyo3(signature = (batch, features, raw_col=None, prob_col=None, pred_col=None))]
    fn score(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
        features: Vec<String>,
        raw_col: Option<String>,
        prob_col: Option<String>,
        pred_col: Option<String>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let out = py
            .detach(|| self.score_batch(batch, &features, raw_col, prob_col, pred_col))
            .map_err(py_err)?;
        Ok(PyArrowType(out))
    }
}

impl Model {
    fn score_batch(
        &self,
        batch: RecordBatch,
        features: &[String],
        raw_col: Option<String>,
        prob_col: Option<String>,
        pred_col: Option<String>,
    ) -> Result<RecordBatch, MlError> {
        let m = &self.model;
        let n = batch.num_rows();
        let assembled = assembler(features, &[], &[]).transform(&Dataset::new(batch.clone()))?;
        let x = assembled.features("features")?;
        let mut cols: Vec<(String, ArrayRef)> = Vec::new();
        match m.objective {
            Objective::BinaryLogistic => {
                let margins = m.predict_margins(x)?;
                if let Some(c) = raw_col {
                    cols.push((c, Arc::new(Float64Array::from(margins.clone()))));
                }
                if let Some(c) = prob_col {
                    // ml-tree's sigmoid, the same expression.
                    let p: Float64Array =
                        margins.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
                    cols.push((c, Arc::new(p)));
                }
                if let Some(c) = pred_col {
                    let p: Float64Array = margins
                        .iter()
                        .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
                        .collect();
                    cols.push((c, Arc::new(p)));
                }
            }
            Objective::MultiSoftmax => {
                let k = m.num_class;
                let margins = m.predict_margins(x)?;
                let mut raw = ListBuilder::with_capacity(Float64Builder::new(), n);
                let mut prob = ListBuilder::with_capacity(Float64Builder::new(), n);
                let mut pred = Vec::with_capacity(n);
                for c in margins.chunks(k) {
                    // As the model's transform computes them.
                    let mx = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = c.iter().map(|v| (v - mx).exp()).sum();
                    raw.values().append_slice(c);
                    raw.append(true);
                    for v in c {
                        prob.values().append_value((v - mx).exp() / z);
                    }
                    prob.append(true);
                    let mut best = 0;
                    for (j, v) in c.iter().enumerate() {
                        if *v > c[best] {
                            best = j;
                        }
                    }
                    pred.push(best as f64);
                }
                if let Some(c) = raw_col {
                    cols.push((c, Arc::new(raw.finish())));
                }
                if let Some(c) = prob_col {
                    cols.push((c, Arc::new(prob.finish())));
                }
                if let Some(c) = pred_col {
                    cols.push((c, Arc::new(Float64Array::from(pred))));
                }
            }
            _ => {
                let k = m.num_class;
                let p = m.predict(x)?;
                if let Some(c) = pred_col {
                    if k == 1 {
                        cols.push((c, Arc::new(Float64Array::from(p))));
                    } else {
                        let mut l = ListBuilder::with_capacity(Float64Builder::new(), n);
                        for row in p.chunks(k) {
                            l.values().append_slice(row);
                            l.append(true);
                        }
                        cols.push((c, Arc::new(l.finish())));
                    }
                }
            }
        }
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for (name, a) in cols {
            let dt: DataType = a.data_type().clone();
            fields.push(Field::new(name, dt, true));
            arrays.push(a);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use super::{lone_holder, threads_for_rank};

    #[test]
    fn only_a_lone_holder_trains_alone() {
        assert_eq!(lone_holder(&[800, 0]), Some(0));
        assert_eq!(lone_holder(&[0, 0, 5]), Some(2));
        // Several holders, no holder, or a world of one: the ring trains.
        assert_eq!(lone_holder(&[400, 400]), None);
        assert_eq!(lone_holder(&[1, 0, 1]), None);
        assert_eq!(lone_holder(&[0, 0]), None);
        assert_eq!(lone_holder(&[800]), None);
    }

    #[test]
    fn threads_follow_the_rows() {
        // Balanced: each keeps its own.
        assert_eq!(threads_for_rank(&[400, 400], 0, 1), 1);
        assert_eq!(threads_for_rank(&[400, 400], 1, 1), 1);
        assert_eq!(threads_for_rank(&[400, 400], 0, 4), 4);
        // One rank holds every row: it gets the stage's threads, the empty one keeps one.
        assert_eq!(threads_for_rank(&[800, 0], 0, 1), 2);
        assert_eq!(threads_for_rank(&[800, 0], 1, 1), 1);
        assert_eq!(threads_for_rank(&[0, 800, 0], 1, 2), 6);
        // Skewed: in proportion, at least one.
        assert_eq!(threads_for_rank(&[700, 100], 0, 2), 4);
        assert_eq!(threads_for_rank(&[700, 100], 1, 2), 1);
        assert_eq!(threads_for_rank(&[1, 10_000], 0, 1), 1);
        // No rows anywhere.
        assert_eq!(threads_for_rank(&[0, 0], 0, 3), 1);
    }
}
