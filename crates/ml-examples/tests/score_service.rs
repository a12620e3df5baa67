//! The scoring service in-process on 127.0.0.1 (port 0), driven by an HTTP/1.1 client (hyper):
//! answers equal to the row scorer's (and so to `transform`'s), 4xx naming the field for bad
//! requests, 413 for a large body, and a model file replaced under load without a failed
//! request.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, StringArray};
use clap::Parser;
use ml_core::feature::{HandleInvalid, Imputer, StringIndexer, VectorAssembler};
use ml_core::row::{Row, RowScorer, RowValue};
use ml_core::{Dataset, Estimator, Pipeline, PipelineModel, Transformer};
use ml_examples::score_service::{Args, Client, Service};
use ml_tree::GradientBoostedTrees;
use serde_json::{json, Value};

/// Posts `body` as a client that writes the whole body without waiting for an early answer
/// (on a raw socket: hyper's client reports the broken pipe of the closed connection instead
/// of the answer); returns the answer's status code.
fn post_without_waiting(addr: SocketAddr, body: &str) -> u16 {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let message = [head.as_bytes(), body.as_bytes()].concat();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&message);
    });
    let mut status_line = String::new();
    BufReader::new(&stream).read_line(&mut status_line).unwrap();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sending.join().unwrap();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"))
}

fn data(shift: f64) -> Dataset {
    let n = 400;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 17 != 0).then(|| ((i * 37) % 101) as f64 / 10.0))
        .collect();
    let grades = ["A", "B", "C", "D"];
    let g: Vec<&str> = (0..n).map(|i| grades[(i * 7) % 4]).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let v = x[i].unwrap_or(5.0) + shift + if g[i] == "D" { 3.0 } else { 0.0 };
            f64::from(v > 6.0)
        })
        .collect();
    Dataset::from_columns(vec![
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("grade", Arc::new(StringArray::from(g)) as ArrayRef),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

fn model(shift: f64, mode: HandleInvalid) -> PipelineModel {
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 4;
    gbt.max_depth = 3;
    Pipeline::new()
        .estimator("impute", Imputer::single("x", "x_imp"))
        .estimator(
            "index",
            StringIndexer::new("grade", "grade_idx").with_handle_invalid(mode),
        )
        .transformer(
            "assemble",
            VectorAssembler::new(&["x_imp", "grade_idx"], "features"),
        )
        .estimator("trees", gbt)
        .fit(&data(shift))
        .unwrap()
}

fn start(path: &Path, reasons: usize) -> Service {
    let p = path.to_str().unwrap();
    let r = reasons.to_string();
    let argv = [
        "score_service",
        "--model",
        p,
        "--addr",
        "127.0.0.1:0",
        "--reasons",
        &r,
        "--watch-ms",
        "20",
        "--threads",
        "2",
        "--max-body-bytes",
        "100000",
    ];
    Service::start(&Args::try_parse_from(argv).unwrap()).unwrap()
}

fn p_bad(v: &Value) -> f64 {
    v["probability"][1].as_f64().unwrap()
}

#[test]
fn answers_equal_the_row_scorer_and_transform() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let m = model(0.0, HandleInvalid::Error);
    ml_core::persist::save(&m, &path).unwrap();
    let service = start(&path, 2);
    let mut c = Client::connect(service.addr).unwrap();

    let health = c.get("/health").unwrap();
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["inputs"][0]["name"], "x");
    assert_eq!(h["inputs"][1]["name"], "grade");

    let scored = m.transform(&data(0.0)).unwrap();
    let probs = scored.features("probability").unwrap();
    let scorer = RowScorer::compile(&m, &["probability"]).unwrap();
    let rows: Vec<Value> = (0..20)
        .map(|i| {
            let r = Row::from_dataset(&data(0.0).select(&["x", "grade"]).unwrap(), i).unwrap();
            ml_examples::score_load::row_json(&r)
        })
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let reply = c.post("/score", &row.to_string()).unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = reply.json();
        // JSON numbers round-trip f64 exactly: the service's answer is the batch's, bit for bit.
        assert_eq!(p_bad(&got).to_bits(), probs[[i, 1]].to_bits(), "row {i}");
        let RowValue::Vector(p) = &scorer.score_json(row, 0).unwrap().unwrap()[0] else {
            panic!("a vector")
        };
        assert_eq!(p[1].to_bits(), probs[[i, 1]].to_bits());
        assert!(got["prediction"].is_number());
        assert!(got["reasons"].as_array().unwrap().len() <= 2);
    }
    // An array is answered by an array, in order.
    let reply = c
        .post("/score", &Value::Array(rows.clone()).to_string())
        .unwrap();
    assert_eq!(reply.status, 200);
    let arr = reply.json();
    for i in 0..rows.len() {
        assert_eq!(p_bad(&arr[i]).to_bits(), probs[[i, 1]].to_bits());
    }
    service.stop().unwrap();
}

#[test]
fn bad_requests_get_4xx_naming_the_field_and_the_service_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let mut services = Vec::new();
    for (name, mode) in [
        ("error", HandleInvalid::Error),
        ("skip", HandleInvalid::Skip),
        ("keep", HandleInvalid::Keep),
    ] {
        let path = dir.path().join(format!("{name}.json"));
        ml_core::persist::save(&model(0.0, mode), &path).unwrap();
        services.push((mode, start(&path, 0)));
    }
    let good = json!({"x": 3.5, "grade": "B"}).to_string();
    for (mode, service) in &services {
        let mut c = Client::connect(service.addr).unwrap();
        let cases = [
            ("{\"x\": 3.5, \"grade\": ", 400, None),
            ("\"just a string\"", 400, None),
            ("{\"grade\": \"B\"}", 422, Some("x")),
            ("{\"x\": \"3.5\", \"grade\": \"B\"}", 422, Some("x")),
            ("{\"x\": 3.5, \"grade\": 7}", 422, Some("grade")),
            (
                "[{\"x\": 3.5, \"grade\": \"B\"}, {\"x\": [1], \"grade\": \"B\"}]",
                422,
                Some("x"),
            ),
        ];
        for (body, status, field) in cases {
            let r = c.post("/score", body).unwrap();
            assert_eq!(r.status, status, "{body}: {}", r.body);
            let j = r.json();
            assert!(
                j["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{}",
                r.body
            );
            if let Some(f) = field {
                assert_eq!(j["field"], f, "{body}: {}", r.body);
                assert!(j["error"].as_str().unwrap().contains(&format!("'{f}'")));
            }
            // The same connection still gets answers.
            assert_eq!(c.post("/score", &good).unwrap().status, 200);
        }
        // An unseen category (and a null) under each handle_invalid.
        for unseen in [
            json!({"x": 1.0, "grade": "Z"}),
            json!({"x": 1.0, "grade": null}),
        ] {
            let r = c
                .post(
                    "/score",
                    &json!([{"x": 2.0, "grade": "A"}, unseen]).to_string(),
                )
                .unwrap();
            match mode {
                HandleInvalid::Error => {
                    assert_eq!(r.status, 422, "{}", r.body);
                    assert_eq!(r.json()["field"], "grade");
                    assert_eq!(r.json()["row"], 1);
                }
                HandleInvalid::Skip => {
                    assert_eq!(r.status, 200, "{}", r.body);
                    assert_eq!(r.json()[1], json!({"skipped": true}));
                }
                _ => {
                    assert_eq!(r.status, 200, "{}", r.body);
                    assert!(r.json()[1]["probability"].is_array());
                }
            }
        }
        // A 10 MB body: 413, and the service answers the next request.
        let big = format!(
            "[{}]",
            vec![good.as_str(); (10 << 20) / good.len() + 1].join(",")
        );
        assert!(big.len() > 10 << 20);
        assert_eq!(post_without_waiting(service.addr, &big), 413);
        let mut c = Client::connect(service.addr).unwrap();
        assert_eq!(c.post("/score", &good).unwrap().status, 200);
        assert_eq!(c.get("/nope").unwrap().status, 404);
    }
    for (_, s) in services {
        s.stop().unwrap();
    }
}

#[test]
fn a_new_model_file_is_picked_up_under_load_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let (a, b) = (
        model(0.0, HandleInvalid::Keep),
        model(2.0, HandleInvalid::Keep),
    );
    ml_core::persist::save(&a, &path).unwrap();
    let service = start(&path, 1);
    let row = json!({"x": 5.5, "grade": "C"});
    let expect = |m: &PipelineModel| {
        let s = RowScorer::compile(m, &["probability"]).unwrap();
        match &s.score_json(&row, 0).unwrap().unwrap()[0] {
            RowValue::Vector(p) => p[1],
            _ => panic!("a vector"),
        }
    };
    let (pa, pb) = (expect(&a), expect(&b));
    assert_ne!(pa, pb);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = service.addr;
    let body = row.to_string();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, body) = (stop.clone(), body.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).unwrap();
                let mut seen = (0usize, 0usize, 0usize);
                while !stop.load(Ordering::Relaxed) {
                    let r = c.post("/score", &body).unwrap();
                    assert_eq!(r.status, 200, "{}", r.body);
                    let p = p_bad(&r.json());
                    assert!(p == pa || p == pb, "{p} is neither model's answer");
                    if p == pa {
                        seen.0 += 1
                    } else {
                        seen.1 += 1
                    }
                    seen.2 += 1;
                }
                seen
            })
        })
        .collect();
    // Swap the file back and forth under load (each save writes a temporary file and renames).
    for k in 0..6 {
        std::thread::sleep(Duration::from_millis(60));
        ml_core::persist::save(if k % 2 == 0 { &b } else { &a }, &path).unwrap();
    }
    ml_core::persist::save(&b, &path).unwrap();
    let t = Instant::now();
    let mut c = Client::connect(addr).unwrap();
    loop {
        if p_bad(&c.post("/score", &body).unwrap().json()) == pb
            && t.elapsed() > Duration::from_millis(100)
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "model b never served"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = (0, 0, 0);
    for h in clients {
        let s = h.join().unwrap();
        total = (total.0 + s.0, total.1 + s.1, total.2 + s.2);
    }
    assert!(total.0 > 0 && total.1 > 0, "{total:?}");
    assert!(service.model_version() >= 2);
    // A broken file leaves the running version in service.
    std::fs::write(dir.path().join("broken.tmp"), "not a model").unwrap();
    std::fs::rename(dir.path().join("broken.tmp"), &path).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let r = c.post("/score", &body).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(p_bad(&r.json()), pb);
    assert!(c.get("/health").unwrap().json()["last_reload_error"].is_string());
    service.stop().unwrap();
}
