//! The HTTP face of the service: `POST /score`, `GET /health`, and the mapping of every
//! failure to a status and a JSON error naming the field.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use ml_core::row::RowValue;
use ml_core::MlError;

use super::model::{LoadedModel, ModelSlot};

/// Rows per request scored on the request's own task; larger batches go to the blocking pool
/// so they do not hold up the other connections of a runtime thread.
const INLINE_ROWS: usize = 64;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The model in service.
    pub model: ModelSlot,
    /// Requests answered by `/score`.
    pub requests: AtomicU64,
    /// Rows scored.
    pub rows: AtomicU64,
    /// Requests answered with a 4xx.
    pub rejected: AtomicU64,
}

/// The routes, with the request body limited to `max_body` bytes (413 beyond).
pub fn router(state: Arc<AppState>, max_body: usize) -> Router {
    Router::new()
        .route("/score", post(score))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// A failed request: its status and JSON body `{"error", "field", "row"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    row: Option<usize>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
            row: None,
        }
    }
}

impl From<MlError> for ApiError {
    /// Errors about the request's values are 422 naming the field (and the row); anything
    /// else the model reports is a 422 without a field.
    fn from(e: MlError) -> Self {
        let (field, row) = match &e {
            MlError::ColumnNotFound { column, .. } | MlError::ColumnType { column, .. } => {
                (Some(column.clone()), None)
            }
            MlError::InvalidValue { column, row, .. } => (Some(column.clone()), Some(*row)),
            _ => (None, None),
        };
        let status = match &e {
            MlError::InvalidData(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError {
            status,
            message: e.to_string(),
            field,
            row,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "field": self.field, "row": self.row});
        (self.status, Json(body)).into_response()
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let m = state.model.current();
    let inputs: Vec<Value> = m
        .scorer
        .inputs()
        .iter()
        .map(|i| json!({"name": i.name, "kind": format!("{:?}", i.kind).to_lowercase()}))
        .collect();
    Json(json!({
        "status": "ok",
        "model": state.model.path().display().to_string(),
        "version": m.version,
        "inputs": inputs,
        "outputs": m.outputs,
        "last_reload_error": state.model.last_error(),
        "requests": state.requests.load(Ordering::Relaxed),
    }))
}

async fn score(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let result = match body {
        Ok(bytes) => score_body(&state, bytes).await,
        Err(rejection) => Err(ApiError::new(
            rejection.status(),
            format!("request body: {}", rejection.body_text()),
        )),
    };
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            state.rejected.fetch_add(1, Ordering::Relaxed);
            e.into_response()
        }
    }
}

async fn score_body(state: &Arc<AppState>, bytes: Bytes) -> Result<Value, ApiError> {
    let request: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let n = match &request {
        Value::Array(rows) => rows.len(),
        _ => 1,
    };
    // The version in service when the request arrived scores all of its rows.
    let model = state.model.current();
    let result = match &request {
        Value::Array(rows) if rows.len() > INLINE_ROWS => {
            let model = model.clone();
            tokio::task::spawn_blocking(move || score_rows(&model, &request))
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        }
        _ => score_rows(&model, &request),
    }?;
    state.rows.fetch_add(n as u64, Ordering::Relaxed);
    Ok(result)
}

/// Scores one object (answering an object) or an array of objects (answering an array); the
/// first bad row fails the request, naming its index.
fn score_rows(model: &LoadedModel, request: &Value) -> Result<Value, ApiError> {
    match request {
        Value::Array(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| score_one(model, r, i))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(_) => score_one(model, request, 0),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "expected a JSON object of column values or an array of them, found {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "a string",
                }
            ),
        )),
    }
}

fn score_one(model: &LoadedModel, row: &Value, index: usize) -> Result<Value, ApiError> {
    let Some(values) = model.scorer.score_json(row, index)? else {
        return Ok(json!({"skipped": true}));
    };
    let mut out = Map::new();
    for (name, v) in model.outputs.iter().zip(&values) {
        out.insert(name.clone(), to_json(v));
    }
    if model.reasons > 0 {
        if let Some(c) = values.get(model.outputs.len()) {
            let group = match out.get("prediction") {
                Some(Value::Number(p)) if c_groups(model, c) > 1 => {
                    p.as_f64().unwrap_or(0.0) as usize
                }
                _ => 0,
            };
            let reasons: Vec<Value> = model
                .reasons_of(c, group)
                .into_iter()
                .map(|(f, v)| json!({"feature": f, "contribution": v}))
                .collect();
            out.insert("reasons".into(), Value::Array(reasons));
        }
    }
    Ok(Value::Object(out))
}

fn c_groups(model: &LoadedModel, c: &RowValue) -> usize {
    match c {
        RowValue::Vector(v) => v.len() / (model.feature_names.len() + 1),
        _ => 0,
    }
}

/// A row value as JSON; a non-finite number (which JSON cannot hold) as null.
fn to_json(v: &RowValue) -> Value {
    match v {
        RowValue::Null => Value::Null,
        RowValue::Number(x) => json!(x),
        RowValue::Text(s) => json!(s),
        RowValue::Vector(x) => Value::Array(x.iter().map(|x| json!(x)).collect()),
    }
}
