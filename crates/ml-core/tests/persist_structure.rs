//! Model files: the tags and option strings they hold stay as they were before the options
//! became enums (files written earlier load), and every load checks the model's structure, so
//! a corrupted file is a `Persistence` error naming the file and the inconsistency.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    StringIndexerModel, StringOrderType, VectorAssembler,
};
use ml_core::linear::{Family, LogisticRegression};
use ml_core::{persist, Dataset, Estimator, MlError, Pipeline, Transformer};
use serde_json::{json, Value};

fn data() -> Dataset {
    let amount = vec![Some(1.0), None, Some(4.0), Some(9.0), Some(2.0), Some(7.0)];
    let city = vec!["Oslo", "Rome", "Oslo", "Lima", "Rome", "Oslo"];
    Dataset::from_columns(vec![
        ("amount", Arc::new(Float64Array::from(amount)) as ArrayRef),
        ("city", Arc::new(StringArray::from(city)) as ArrayRef),
        (
            "label",
            Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0])) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn pipeline() -> Pipeline {
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::single("amount", "amount_f").with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::new("city", "city_idx")
                .with_handle_invalid(HandleInvalid::Keep)
                .with_string_order_type(StringOrderType::AlphabetAsc),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&["city_idx"], &["city_vec"])
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer(
            "assemble",
            VectorAssembler::new(&["amount_f", "city_vec"], "raw")
                .with_handle_invalid(HandleInvalid::Skip),
        )
        .estimator("scale", StandardScaler::new("raw", "features"))
        .estimator(
            "lr",
            LogisticRegression::new()
                .with_family(Family::Multinomial)
                .with_reg_param(0.1)
                .with_max_iter(5),
        )
}

fn saved_pipeline() -> Value {
    let model = pipeline().fit(&data()).unwrap();
    serde_json::from_str(&persist::to_json(&model).unwrap()).unwrap()
}

fn stage<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    let stages = doc["model"]["stages"].as_array_mut().unwrap();
    let s = stages.iter_mut().find(|s| s[0] == name).unwrap();
    &mut s[1]
}

/// Loads the model of an edited document. Edits break a version-2 file's checksum (which the
/// persist module's own tests cover), so the model goes back in a version-1 envelope, without
/// a checksum, and what is tested is the structure check every load makes.
fn load(doc: &Value) -> ml_core::Result<Box<dyn Transformer>> {
    let v1 = serde_json::json!({"format": "ml-model", "version": 1, "model": doc["model"]});
    persist::from_json(&v1.to_string(), Path::new("model.json"))
}

/// Loads a corrupted document and returns the message of its `Persistence` error.
fn load_error(doc: &Value) -> String {
    match load(doc).unwrap_err() {
        MlError::Persistence { path, message } => {
            assert_eq!(path, Path::new("model.json"));
            message
        }
        e => panic!("expected a persistence error, got {e}"),
    }
}

#[test]
fn saved_files_hold_the_same_tags_and_option_strings_as_before() {
    let doc = saved_pipeline();
    assert_eq!(doc["model"]["type"], "PipelineModel");
    let mut doc = doc;
    let tags: Vec<(&str, &str)> = [
        ("impute", "ImputerModel"),
        ("index", "StringIndexerModel"),
        ("onehot", "OneHotEncoderModel"),
        ("assemble", "VectorAssembler"),
        ("scale", "StandardScalerModel"),
        ("lr", "LogisticRegressionModel"),
    ]
    .into();
    for (name, tag) in tags {
        assert_eq!(stage(&mut doc, name)["type"], tag, "stage {name}");
    }
    assert_eq!(stage(&mut doc, "impute")["params"]["strategy"], "median");
    let index = stage(&mut doc, "index")["params"].clone();
    assert_eq!(index["handle_invalid"], "keep");
    assert_eq!(index["string_order_type"], "alphabetAsc");
    assert_eq!(
        stage(&mut doc, "onehot")["params"]["handle_invalid"],
        "keep"
    );
    assert_eq!(stage(&mut doc, "assemble")["handle_invalid"], "skip");
    assert_eq!(stage(&mut doc, "lr")["params"]["family"], "multinomial");
    // And the document loads back to a model that gives the same output.
    let fitted = pipeline().fit(&data()).unwrap();
    let loaded = load(&doc).unwrap();
    let a = fitted.transform(&data()).unwrap();
    let b = loaded.transform(&data()).unwrap();
    assert_eq!(
        a.features("probability").unwrap(),
        b.features("probability").unwrap()
    );
}

#[test]
fn a_file_written_before_typed_options_loads() {
    // As the previous version wrote it (options as free strings; `family` in any case, which
    // that version accepted).
    let legacy = json!({
        "format": "ml-model", "version": 1,
        "model": {"type": "StringIndexerModel",
            "params": {"input_col": "city", "output_col": "city_idx", "input_cols": null,
                "output_cols": null, "handle_invalid": "keep", "string_order_type": "alphabetAsc"},
            "labels_array": [["Lima", "Oslo", "Rome"]]}
    });
    let model = load(&legacy).unwrap();
    let si = model.as_any().downcast_ref::<StringIndexerModel>().unwrap();
    assert_eq!(si.params().handle_invalid, HandleInvalid::Keep);
    assert_eq!(si.params().string_order_type, StringOrderType::AlphabetAsc);
    let out = model.transform(&data()).unwrap();
    assert_eq!(
        out.f64_column("city_idx").unwrap().values(),
        &[1.0, 2.0, 1.0, 0.0, 2.0, 1.0]
    );

    let mut doc = saved_pipeline();
    stage(&mut doc, "lr")["params"]["family"] = json!("Multinomial");
    assert!(load(&doc).is_ok());
}

#[test]
fn an_unknown_option_in_a_file_names_the_parameter_and_the_allowed_values() {
    let mut doc = saved_pipeline();
    stage(&mut doc, "index")["params"]["handle_invalid"] = json!("ignore");
    let m = load_error(&doc);
    assert!(m.contains("handle_invalid"), "{m}");
    assert!(m.contains("use one of: error, skip, keep"), "{m}");

    // OneHotEncoder accepts no `skip` (as in Spark): it parses, then fails the check.
    let mut doc = saved_pipeline();
    stage(&mut doc, "onehot")["params"]["handle_invalid"] = json!("skip");
    let m = load_error(&doc);
    assert!(
        m.contains("stage 'onehot'") && m.contains("use one of: error, keep"),
        "{m}"
    );
}

#[test]
fn corrupted_fitted_state_is_an_error_naming_the_stage_and_the_fault() {
    type Corrupt = fn(&mut Value);
    let cases: Vec<(&str, Corrupt, &str)> = vec![
        (
            "index",
            |s| s["labels_array"] = json!([["Lima", "Oslo", "Lima"]]),
            "label 'Lima' of column 'city' is listed twice",
        ),
        (
            "index",
            |s| s["labels_array"] = json!([["Lima"], ["Oslo"]]),
            "1 columns but 2 label lists",
        ),
        (
            "onehot",
            |s| s["category_sizes"] = json!([4, 2]),
            "1 columns but 2 category sizes",
        ),
        (
            "onehot",
            |s| s["labels"] = json!([["a", "b"]]),
            "has 4 categories but 2 labels",
        ),
        (
            "impute",
            |s| s["surrogates"] = json!([1.0, 2.0]),
            "1 columns but 2 surrogates",
        ),
        (
            "scale",
            |s| {
                s["std"].as_array_mut().unwrap().pop();
            },
            "5 means but 4 standard deviations",
        ),
        (
            "scale",
            |s| s["std"][0] = json!(-1.0),
            "slot 0 has a negative standard deviation",
        ),
        (
            "lr",
            |s| {
                s["coefficient_matrix"].as_array_mut().unwrap().pop();
            },
            "3 coefficient sets of 5 features need 15 coefficients and 3 intercepts, found 14 and 3",
        ),
        (
            "lr",
            |s| s["is_multinomial"] = json!(false),
            "3 classes for a binomial model",
        ),
        (
            "lr",
            |s| s["params"]["thresholds"] = json!([0.5, 0.5]),
            "needs 3 values (one per class), got 2",
        ),
    ];
    for (name, corrupt, expected) in cases {
        let mut doc = saved_pipeline();
        corrupt(stage(&mut doc, name));
        let m = load_error(&doc);
        assert!(m.contains(&format!("stage '{name}'")), "{m}");
        assert!(
            m.contains(expected),
            "{name}: expected '{expected}' in: {m}"
        );
    }
}

#[test]
fn a_pipeline_file_with_a_stage_name_used_twice_does_not_load() {
    let mut doc = saved_pipeline();
    let stages = doc["model"]["stages"].as_array_mut().unwrap();
    stages[1][0] = json!("impute");
    let m = load_error(&doc);
    assert!(m.contains("'impute' is used twice"), "{m}");
}

#[test]
fn string_indexer_model_from_labels_rejects_repeated_labels() {
    let e = StringIndexerModel::from_labels(
        StringIndexer::new("city", "city_idx"),
        vec![vec!["a".into(), "b".into(), "a".into()]],
    )
    .unwrap_err();
    assert!(
        matches!(e, MlError::InvalidParam { ref param, ref message }
            if param == "labels" && message.contains("'a'")),
        "{e}"
    );
}

#[test]
fn option_values_parse_by_spark_name_and_unknown_ones_list_the_allowed_values() {
    assert_eq!(
        "frequencyAsc".parse::<StringOrderType>().unwrap(),
        StringOrderType::FrequencyAsc
    );
    assert_eq!(
        "MULTINOMIAL".parse::<Family>().unwrap(),
        Family::Multinomial
    );
    assert_eq!(Family::Binomial.to_string(), "binomial");
    for (e, param, allowed) in [
        (
            "frequency".parse::<StringOrderType>().unwrap_err(),
            "string_order_type",
            "frequencyDesc, frequencyAsc, alphabetDesc, alphabetAsc",
        ),
        (
            "avg".parse::<ImputerStrategy>().unwrap_err(),
            "strategy",
            "mean, median, mode",
        ),
        (
            "Keep".parse::<HandleInvalid>().unwrap_err(),
            "handle_invalid",
            "error, skip, keep",
        ),
        (
            "poisson".parse::<Family>().unwrap_err(),
            "family",
            "auto, binomial, multinomial",
        ),
    ] {
        assert!(
            matches!(e, MlError::InvalidParam { param: ref p, ref message }
                if p == param && message.ends_with(&format!("use one of: {allowed}"))),
            "{e}"
        );
    }
}
