//! Datasets: MNIST-1D (embedded), Fashion-MNIST and any IDX files (as the MNIST family ships
//! them, gzipped or not), and CSV tables of a label then features. Every dataset is split into
//! train / validation / test: a search ranks candidates on validation and reports test beside it.

use crate::net::Shape;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Examples of one split: `x` holds `len() * shape.numel()` values, example after example.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub x: Vec<f32>,
    pub y: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The first `n` examples (all of them if there are fewer).
    pub fn truncated(mut self, n: usize, numel: usize) -> Split {
        if n < self.len() {
            self.y.truncate(n);
            self.x.truncate(n * numel);
        }
        self
    }

    pub(crate) fn take(&self, from: usize, to: usize, numel: usize) -> Split {
        Split {
            x: self.x[from * numel..to * numel].to_vec(),
            y: self.y[from..to].to_vec(),
        }
    }
}

/// A classification dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    /// The shape of one example.
    pub input: Shape,
    pub classes: usize,
    pub train: Split,
    pub valid: Split,
    pub test: Split,
}

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Malformed { path: PathBuf, message: String },
}

fn malformed(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

static MNIST1D: &[u8] = include_bytes!("../data/mnist1d.bin");

/// MNIST-1D (Greydanus & Kobak 2020), generated once with the `mnist1d` package and embedded:
/// 4,000 training sequences (the last 500 held out for validation) and 1,000 test sequences
/// of length 40, 10 classes.
pub fn mnist1d() -> Dataset {
    let bytes = MNIST1D;
    assert_eq!(&bytes[..8], b"HNAS1D\0\0", "embedded MNIST-1D is corrupt");
    let u32_at =
        |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes")) as usize;
    let (n_train, n_test, len) = (u32_at(8), u32_at(12), u32_at(16));
    let mut off = 20;
    let mut floats = |n: usize| {
        let v: Vec<f32> = bytes[off..off + 4 * n]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        off += 4 * n;
        v
    };
    let x_train = floats(n_train * len);
    let x_test = floats(n_test * len);
    let y_train = bytes[off..off + n_train].to_vec();
    let y_test = bytes[off + n_train..off + n_train + n_test].to_vec();
    let all = Split {
        x: x_train,
        y: y_train,
    };
    let n_valid = 500;
    Dataset {
        name: "mnist1d".into(),
        input: Shape::Seq { c: 1, l: len },
        classes: 10,
        train: all.take(0, n_train - n_valid, len),
        valid: all.take(n_train - n_valid, n_train, len),
        test: Split {
            x: x_test,
            y: y_test,
        },
    }
}

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST from the IDX files of Debian's `dataset-fashion-mnist`.
pub fn fashion_mnist() -> Result<Dataset, DataError> {
    let dir = Path::new(FASHION_MNIST_DIR);
    if !dir.is_dir() {
        return Err(malformed(
            dir,
            "Fashion-MNIST is not installed (Debian: apt-get install dataset-fashion-mnist)",
        ));
    }
    let mut d = idx_dir(dir)?;
    d.name = "fashion-mnist".into();
    Ok(d)
}

/// An MNIST-style directory: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped. Pixels are
/// scaled to [0, 1] then standardized with the training set's mean and deviation; the last
/// sixth of the training set is held out for validation.
pub fn idx_dir(dir: &Path) -> Result<Dataset, DataError> {
    let find = |stem: &str| -> Result<PathBuf, DataError> {
        for name in [stem.to_string(), format!("{stem}.gz")] {
            let p = dir.join(&name);
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(malformed(
            dir,
            format!("no {stem} (or {stem}.gz) in this directory"),
        ))
    };
    let (train_x, h, w) = read_idx_images(&find("train-images-idx3-ubyte")?)?;
    let train_y = read_idx_labels(&find("train-labels-idx1-ubyte")?)?;
    let test_images = find("t10k-images-idx3-ubyte")?;
    let (test_x, th, tw) = read_idx_images(&test_images)?;
    let test_y = read_idx_labels(&find("t10k-labels-idx1-ubyte")?)?;
    if (th, tw) != (h, w) {
        return Err(malformed(
            &test_images,
            format!("images are {th}×{tw}, the training images {h}×{w}"),
        ));
    }
    let numel = h * w;
    if train_x.len() != train_y.len() * numel || test_x.len() != test_y.len() * numel {
        return Err(malformed(dir, "the numbers of images and labels differ"));
    }
    let classes = train_y
        .iter()
        .chain(&test_y)
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    let n = train_y.len();
    let mean = train_x.iter().map(|&p| p as f64).sum::<f64>() / train_x.len().max(1) as f64;
    let var = train_x
        .iter()
        .map(|&p| (p as f64 - mean).powi(2))
        .sum::<f64>()
        / train_x.len().max(1) as f64;
    let sd = var.sqrt().max(1e-6);
    let norm = |v: Vec<u8>| -> Vec<f32> {
        v.into_iter()
            .map(|p| ((p as f64 - mean) / sd) as f32)
            .collect()
    };
    let all = Split {
        x: norm(train_x),
        y: train_y,
    };
    let n_valid = n / 6;
    Ok(Dataset {
        name: dir.display().to_string(),
        input: Shape::Image { c: 1, h, w },
        classes,
        train: all.take(0, n - n_valid, numel),
        valid: all.take(n - n_valid, n, numel),
        test: Split {
            x: norm(test_x),
            y: test_y,
        },
    })
}

fn read_all(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| malformed(path, format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The header of an IDX file: element type 0x08 (unsigned byte) and its dimensions.
fn idx_header(path: &Path, b: &[u8], want_dims: u8) -> Result<(Vec<usize>, usize), DataError> {
    if b.len() < 4 || b[0] != 0 || b[1] != 0 {
        return Err(malformed(
            path,
            "not an IDX file (it must start with two zero bytes)",
        ));
    }
    if b[2] != 0x08 {
        return Err(malformed(
            path,
            format!(
                "IDX element type 0x{:02x}; only unsigned bytes (0x08) are read",
                b[2]
            ),
        ));
    }
    if b[3] != want_dims {
        return Err(malformed(
            path,
            format!("IDX file of {} dimensions, expected {want_dims}", b[3]),
        ));
    }
    let head = 4 + 4 * want_dims as usize;
    if b.len() < head {
        return Err(malformed(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..want_dims as usize)
        .map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let want: usize = dims.iter().product();
    if b.len() - head != want {
        return Err(malformed(
            path,
            format!(
                "the header declares {} bytes of data ({}), the file holds {}",
                want,
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(" × "),
                b.len() - head
            ),
        ));
    }
    Ok((dims, head))
}

/// Reads an IDX image file: pixels, height, width.
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, usize), DataError> {
    let mut b = read_all(path)?;
    let (dims, head) = idx_header(path, &b, 3)?;
    b.drain(..head);
    Ok((b, dims[1], dims[2]))
}

/// Reads an IDX label file.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let mut b = read_all(path)?;
    let (_, head) = idx_header(path, &b, 1)?;
    b.drain(..head);
    Ok(b)
}

/// A CSV table, one example per row: an integer class label in the first column, then the
/// features (a header row is skipped when its first field is not a number). Features are
/// standardized per column with the training rows' statistics. Rows are split in file order:
/// the first 70 % train, the next 15 % validation, the last 15 % test.
pub fn csv_file(path: &Path) -> Result<Dataset, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rows: Vec<(u8, Vec<f32>)> = Vec::new();
    let mut width = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let at = |col: usize, msg: String| {
            malformed(path, format!("line {}, column {}: {msg}", i + 1, col + 1))
        };
        let label = match fields[0].parse::<f64>() {
            Ok(v) if v >= 0.0 && v.fract() == 0.0 && v < 256.0 => v as u8,
            Ok(v) => return Err(at(0, format!("label {v} is not a class number in 0..=255"))),
            Err(_) if rows.is_empty() && width.is_none() => {
                width = Some(fields.len());
                continue;
            }
            Err(_) => {
                return Err(at(
                    0,
                    format!("expected a class label, found `{}`", fields[0]),
                ))
            }
        };
        match width {
            Some(w) if w != fields.len() => {
                return Err(malformed(
                    path,
                    format!(
                        "line {}: {} fields, the first row has {w}",
                        i + 1,
                        fields.len()
                    ),
                ))
            }
            _ => width = Some(fields.len()),
        }
        let mut feats = Vec::with_capacity(fields.len() - 1);
        for (j, f) in fields.iter().enumerate().skip(1) {
            match f.parse::<f32>() {
                Ok(v) if v.is_finite() => feats.push(v),
                _ => return Err(at(j, format!("expected a number, found `{f}`"))),
            }
        }
        rows.push((label, feats));
    }
    let n = rows.len();
    let f = width.unwrap_or(1).saturating_sub(1);
    if n < 3 || f == 0 {
        return Err(malformed(
            path,
            format!(
                "{n} examples of {f} features: too few to split into train, validation and test"
            ),
        ));
    }
    let n_train = (n * 70 / 100).max(1);
    let n_valid = ((n * 15) / 100).max(1);
    let mut mean = vec![0f64; f];
    let mut var = vec![0f64; f];
    for (_, r) in &rows[..n_train] {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += *v as f64 / n_train as f64;
        }
    }
    for (_, r) in &rows[..n_train] {
        for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
            *s += (*v as f64 - m).powi(2) / n_train as f64;
        }
    }
    let split = |rs: &[(u8, Vec<f32>)]| Split {
        x: rs
            .iter()
            .flat_map(|(_, r)| {
                r.iter()
                    .zip(&mean)
                    .zip(&var)
                    .map(|((v, m), s)| ((*v as f64 - m) / s.sqrt().max(1e-6)) as f32)
            })
            .collect(),
        y: rs.iter().map(|(l, _)| *l).collect(),
    };
    let classes = rows.iter().map(|(l, _)| *l as usize).max().unwrap_or(0) + 1;
    Ok(Dataset {
        name: path.display().to_string(),
        input: Shape::Seq { c: 1, l: f },
        classes,
        train: split(&rows[..n_train]),
        valid: split(&rows[n_train..n_train + n_valid]),
        test: split(&rows[n_train + n_valid..]),
    })
}
