//! Dataset readers on good and malformed files.

use hnas_train::data::{
    csv_file, idx_dir, mnist1d, read_idx_images, read_idx_labels, FASHION_MNIST_DIR,
};
use hnas_train::Shape;
use std::io::Write;
use std::path::Path;

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn write_mnist_like(dir: &Path, n_train: u32, n_test: u32, gzip: bool) {
    let pixels = |n: u32| (0..n * 4).map(|i| (i * 37 % 256) as u8).collect::<Vec<_>>();
    let labels = |n: u32| (0..n).map(|i| (i % 3) as u8).collect::<Vec<_>>();
    let files = [
        (
            "train-images-idx3-ubyte",
            idx(&[n_train, 2, 2], &pixels(n_train)),
        ),
        ("train-labels-idx1-ubyte", idx(&[n_train], &labels(n_train))),
        (
            "t10k-images-idx3-ubyte",
            idx(&[n_test, 2, 2], &pixels(n_test)),
        ),
        ("t10k-labels-idx1-ubyte", idx(&[n_test], &labels(n_test))),
    ];
    for (name, bytes) in files {
        if gzip {
            std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-data-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn idx_directories_read_plain_and_gzipped() {
    for gzip in [false, true] {
        let d = tempdir(if gzip { "gz" } else { "raw" });
        write_mnist_like(&d, 12, 5, gzip);
        let ds = idx_dir(&d).unwrap();
        assert_eq!(ds.input, Shape::Image { c: 1, h: 2, w: 2 });
        assert_eq!(ds.classes, 3);
        assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (10, 2, 5));
        assert_eq!(ds.train.x.len(), 40);
        let mean: f32 = ds.train.x.iter().chain(&ds.valid.x).sum::<f32>() / 48.0;
        assert!(
            mean.abs() < 1e-4,
            "standardized with the training set's statistics: {mean}"
        );
        assert_eq!(&ds.train.y[..4], &[0, 1, 2, 0]);
    }
}

#[test]
fn malformed_idx_files_say_what_is_wrong() {
    let d = tempdir("bad");
    let p = d.join("x");
    std::fs::write(&p, b"\x1f\x8bnot gzip").unwrap();
    assert!(read_idx_labels(&p)
        .unwrap_err()
        .to_string()
        .contains("bad gzip data"));
    std::fs::write(&p, b"GIF89a").unwrap();
    assert!(read_idx_labels(&p)
        .unwrap_err()
        .to_string()
        .contains("not an IDX file"));
    std::fs::write(&p, idx(&[3, 2, 2], &[1, 2, 3])).unwrap();
    let m = read_idx_images(&p).unwrap_err().to_string();
    assert!(
        m.contains("declares 12 bytes") && m.contains("holds 3"),
        "{m}"
    );
    std::fs::write(&p, idx(&[3], &[1, 2, 3])).unwrap();
    assert!(read_idx_images(&p)
        .unwrap_err()
        .to_string()
        .contains("1 dimensions, expected 3"));
    let empty = tempdir("empty");
    assert!(idx_dir(&empty)
        .unwrap_err()
        .to_string()
        .contains("no train-images-idx3-ubyte"));
}

#[test]
fn csv_tables_read_with_a_header_and_errors_name_line_and_column() {
    let d = tempdir("csv");
    let p = d.join("t.csv");
    let mut text = String::from("label,a,b,c\n");
    for i in 0..20 {
        text.push_str(&format!("{},{},{}.5,{}\n", i % 2, i, i * 2, 3 - i));
    }
    std::fs::write(&p, &text).unwrap();
    let ds = csv_file(&p).unwrap();
    assert_eq!(ds.input, Shape::Seq { c: 1, l: 3 });
    assert_eq!(ds.classes, 2);
    assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (14, 3, 3));
    std::fs::write(&p, "0,1,2\n1,3\n").unwrap();
    assert!(csv_file(&p)
        .unwrap_err()
        .to_string()
        .contains("line 2: 2 fields"));
    std::fs::write(&p, "0,1,2\n1,x,3\n").unwrap();
    let m = csv_file(&p).unwrap_err().to_string();
    assert!(
        m.contains("line 2, column 2: expected a number, found `x`"),
        "{m}"
    );
    std::fs::write(&p, "0,1\n-1,3\n").unwrap();
    assert!(csv_file(&p)
        .unwrap_err()
        .to_string()
        .contains("not a class number"));
}

#[test]
fn mnist1d_is_embedded_with_its_published_split() {
    let d = mnist1d();
    assert_eq!(d.input, Shape::Seq { c: 1, l: 40 });
    assert_eq!(
        (d.train.len(), d.valid.len(), d.test.len()),
        (3500, 500, 1000)
    );
    let mut counts = [0usize; 10];
    for &y in d.train.y.iter().chain(&d.valid.y) {
        counts[y as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| (380..=420).contains(&c)),
        "{counts:?}"
    );
    let mean = d.train.x.iter().map(|&v| v as f64).sum::<f64>() / d.train.x.len() as f64;
    assert!(mean.abs() < 0.1, "the generator centers the data: {mean}");
}

#[test]
fn fashion_mnist_from_the_debian_package() {
    if !Path::new(FASHION_MNIST_DIR).is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{FASHION_MNIST_DIR} is missing: .ci/run installs dataset-fashion-mnist"
        );
        eprintln!("skipped: {FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)");
        return;
    }
    let d = hnas_train::data::fashion_mnist().unwrap();
    assert_eq!(d.input, Shape::Image { c: 1, h: 28, w: 28 });
    assert_eq!(d.classes, 10);
    assert_eq!(
        (d.train.len(), d.valid.len(), d.test.len()),
        (50_000, 10_000, 10_000)
    );
}
