//! `hnas bench-train`: training throughput of one fixed CNN on this machine's backend.

use anyhow::{bail, Result};
use clap::Args;
use hnas_train::bench::{fixed_cnn, throughput};
use hnas_train::Optim;

#[derive(Args)]
pub struct BenchTrainArgs {
    /// Training steps timed (after the warm-up).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Examples per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// sgd (momentum 0.9) or adam.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// One line of CSV (backend,optimizer,steps_per_s,forward_ms,backward_ms,update_ms).
    #[arg(long)]
    pub csv: bool,
}

pub fn run(a: BenchTrainArgs) -> Result<()> {
    let optim = match a.optimizer.as_str() {
        "sgd" => Optim::Sgd,
        "adam" => Optim::Adam,
        o => bail!("unknown optimizer '{o}'; expected sgd or adam"),
    };
    let backend = hnas_train::train::backend_name();
    let net = fixed_cnn();
    let t = throughput(&net, optim, a.batch, a.steps, a.warmup);
    let ms = |s: f64| s * 1e3;
    if a.csv {
        println!(
            "{backend},{},{:.3},{:.3},{:.3},{:.3}",
            a.optimizer,
            t.steps_per_second,
            ms(t.forward),
            ms(t.backward),
            ms(t.update)
        );
    } else {
        println!(
            "hnas ({backend}, {}): {:.2} steps/s at batch {}; per step: forward {:.2} ms, backward {:.2} ms, update {:.2} ms ({} parameters)",
            a.optimizer,
            t.steps_per_second,
            a.batch,
            ms(t.forward),
            ms(t.backward),
            ms(t.update),
            net.params()
        );
    }
    Ok(())
}
