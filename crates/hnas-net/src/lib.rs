//! # hnas-net: candidates as networks, without a tensor library
//!
//! A candidate of a network space is compiled ([`compile()`]) into a [`Net`]: layers with
//! shapes inferred before any tensor exists, so an invalid network fails at once, and with
//! parameter and FLOP counts read off it. [`export::pytorch`] writes the net as a PyTorch
//! `nn.Module`. `hnas-train` gives a net weights and trains it with burn; this crate is
//! apart from it so that the Python package and other light users can compile and export
//! without burn.

pub mod compile;
pub mod export;
pub mod net;

pub use compile::{compile, CompileError, Compiled, Optim, Skeleton, TrainArgs, OPERATIONS};
pub use net::{Net, Shape};

/// A network's input from text: C×H×W (an image), C×L (a sequence) or F (features), as
/// `3x32x32`.
pub fn parse_shape(s: &str) -> Result<Shape, String> {
    let dims: Vec<usize> = s
        .split(['x', '×'])
        .map(|d| d.trim().parse::<usize>().ok().filter(|v| *v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{s}: expected C×H×W, C×L or F of positive integers, as 3x32x32"))?;
    Ok(match dims[..] {
        [c, h, w] => Shape::Image { c, h, w },
        [c, l] => Shape::Seq { c, l },
        [f] => Shape::Flat { f },
        _ => return Err(format!("{s}: expected C×H×W, C×L or F")),
    })
}
