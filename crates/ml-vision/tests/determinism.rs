//! Image reading and the CNN featurizer give bit-identical output at 1, 2 and 3 threads
//! (issue 19, item 6). Four images (three video frames and the baboon), so 3 threads share them
//! out unevenly (2 + 1 + 1) where 2 threads take two each. Needs only the files shipped in
//! examples/data (no system packages).

use std::path::PathBuf;

use ml_core::{threads, Transformer};
use ml_vision::image_table::{read_images, ImageReadOptions};
use ml_vision::DeepImageFeaturizer;

const THREADS: [usize; 3] = [1, 2, 3];

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(rel)
}

#[test]
fn image_reading_and_featurizer_are_bit_identical_at_1_2_3_threads() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["vtest_000.jpg", "vtest_051.jpg", "vtest_079.jpg"] {
        std::fs::copy(
            data(&format!("video/vtest_frames_1fps/{name}")),
            dir.path().join(name),
        )
        .unwrap();
    }
    std::fs::copy(
        data("models/test_baboon.jpg"),
        dir.path().join("baboon.jpg"),
    )
    .unwrap();
    let tables: Vec<_> = THREADS
        .iter()
        .map(|&n| {
            read_images(dir.path(), &ImageReadOptions::default().with_n_threads(n))
                .unwrap()
                .batch()
                .clone()
        })
        .collect();
    assert_eq!(tables[0].num_rows(), 4);
    for (n, t) in THREADS.iter().zip(&tables).skip(1) {
        assert!(*t == tables[0], "image table at {n} threads differs");
    }
    let table = ml_core::Dataset::new(tables[0].clone());
    let model = data("models/efficientnet-lite0-imagenet.onnx");
    let features: Vec<Vec<u32>> = THREADS
        .iter()
        .map(|&n| {
            let mut f = DeepImageFeaturizer::new(model.to_string_lossy().into_owned());
            f.n_threads = n;
            // Inside a pool of the same size too, so nothing else runs on more threads.
            threads::install(n, || {
                let out = f.transform(&table).unwrap();
                let x = out.features("features").unwrap();
                assert_eq!(x.dim(), (4, 1280));
                x.iter().map(|v| (*v as f32).to_bits()).collect()
            })
            .unwrap()
        })
        .collect();
    for (n, f) in THREADS.iter().zip(&features).skip(1) {
        assert!(*f == features[0], "features at {n} threads differ");
    }
    // The rows are different images, so a row mix-up would show.
    assert!(features[0][..1280] != features[0][1280..2560]);
}
