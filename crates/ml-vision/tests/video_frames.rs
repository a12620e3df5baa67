//! Frame extraction from the real test clip (needs the `video` feature and FFmpeg).
#![cfg(feature = "video")]

use std::path::PathBuf;

use ml_vision::image_table::{decode_rgb, ImageColumn};
use ml_vision::video::{frames_to_dataset, FrameExtractor};
use ml_vision::VisionError;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(rel)
}

#[test]
fn one_frame_per_second_matches_the_shipped_frames() {
    let dir = tempfile::tempdir().unwrap();
    let video = data("video/vtest.avi");
    let frames = FrameExtractor::new()
        .interval_ms(1000)
        .write_to(dir.path())
        .extract(&video)
        .unwrap();
    // vtest.avi: 795 frames at 10 fps (79.5 s) -> seconds 0..79.
    assert_eq!(frames.len(), 80);
    let mut worst = 0.0f64;
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f.timestamp_ms, 1000 * k as i64);
        assert_eq!(f.frame_number, 10 * k);
        // The shipped frames were cut by OpenCV (FFmpeg backend) at frames 0, 10, ... 790 and
        // saved as JPEG quality 90, so only JPEG loss separates them from ours.
        let shipped =
            decode_rgb(&data(&format!("video/vtest_frames_1fps/vtest_{k:03}.jpg"))).unwrap();
        assert_eq!(
            (shipped.width(), shipped.height()),
            (f.image.width(), f.image.height())
        );
        let mad = shipped
            .data()
            .iter()
            .zip(f.image.data())
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum::<f64>()
            / shipped.data().len() as f64;
        worst = worst.max(mad);
        assert!(mad < 3.0, "frame {k}: mean abs diff {mad}");
    }
    eprintln!("worst mean abs pixel difference vs shipped frames: {worst:.3}");
    // Written as <stem>frame%04d.jpg, numbered from 0.
    let first = dir.path().join("vtestframe0000.jpg");
    let last = dir.path().join("vtestframe0079.jpg");
    assert!(first.is_file() && last.is_file());
    assert!(!dir.path().join("vtestframe0080.jpg").exists());
    let written = decode_rgb(&last).unwrap();
    assert_eq!((written.width(), written.height()), (768, 576));

    let table = frames_to_dataset(&frames[..2]).unwrap();
    assert_eq!(
        table.i64_column("timestamp_ms").unwrap().values(),
        &[0, 1000]
    );
    let col = ImageColumn::new(&table, "image").unwrap();
    assert!(col.origin(1).ends_with("vtest.avi#t=1000ms"));
    assert_eq!(col.rgb(1).unwrap(), frames[1].image);
}

#[test]
fn a_longer_interval_keeps_fewer_frames() {
    let frames = FrameExtractor::new()
        .interval_ms(10_000)
        .extract(data("video/vtest.avi"))
        .unwrap();
    let ts: Vec<i64> = frames.iter().map(|f| f.timestamp_ms).collect();
    assert_eq!(ts, (0..8).map(|k| k * 10_000).collect::<Vec<_>>());
}

#[test]
fn a_file_that_is_not_a_video_is_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("clip.avi");
    std::fs::write(
        &fake,
        b"this is not a video at all, just some text bytes\n".repeat(50),
    )
    .unwrap();
    let e = FrameExtractor::new().extract(&fake).unwrap_err();
    assert!(matches!(e, VisionError::Video { .. }), "{e:?}");
    assert!(e.to_string().contains("clip.avi"), "{e}");

    // A JPEG is not a video either (FFmpeg opens it as an image stream or refuses it).
    let jpeg = data("models/test_baboon.jpg");
    match FrameExtractor::new().extract(&jpeg) {
        Err(e) => assert!(e.to_string().contains("test_baboon.jpg"), "{e}"),
        Ok(frames) => assert!(frames.len() <= 1),
    }

    let missing = FrameExtractor::new()
        .extract(dir.path().join("none.avi"))
        .unwrap_err();
    assert!(matches!(missing, VisionError::Io { .. }));
    assert!(missing.to_string().contains("none.avi"));
}

#[test]
fn a_truncated_video_still_yields_the_frames_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("video/vtest.avi")).unwrap();
    let cut = dir.path().join("cut.avi");
    std::fs::write(&cut, &bytes[..bytes.len() / 4]).unwrap();
    let frames = FrameExtractor::new().extract(&cut).unwrap();
    assert!(!frames.is_empty() && frames.len() < 80, "{}", frames.len());
}
