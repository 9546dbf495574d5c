//! `hnas`: the command-line face of the hnas library crates.

mod bench_cmd;
mod bench_train_cmd;
mod darts_cmd;
mod export_cmd;
mod illuminate_cmd;
mod predict_cmd;
mod report_cmd;
mod search_cmd;
mod serve_cmd;
mod space_cmd;
mod tabulate_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// A search allocates many small strings per trial (forms, hashes, records); mimalloc halves
// the engine's allocation cost against the system allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hnas",
    version,
    about = "Hierarchical neural architecture search",
    after_help = "Environment:\n  HNAS_DATA          folder holding benchmark tables (nb201/nb201.csv) to use instead of the\n                     NAS-Bench-201 table built into hnas; the same as --data\n  HNAS_DEVICE        where training runs: flex (CPU, default); tch, tch-cuda in builds with\n                     libtorch (see docs/training.md)\n  RAYON_NUM_THREADS  threads for CPU training and table work (default: one per core)"
)]
struct Cli {
    /// Folder holding benchmark tables (nb201/nb201.csv) to read instead of the NAS-Bench-201
    /// table built into hnas (as HNAS_DATA; the flag wins).
    // Not clap's `env`: it refuses an empty HNAS_DATA, which should mean "unset".
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with a search space: check, count, sample, enumerate, mutate, cross over.
    #[command(subcommand)]
    Space(space_cmd::SpaceCmd),
    /// Run (or resume, or extend) a search; settings from flags and/or a TOML study file.
    /// With no space and no evaluator: the default search (MNIST-1D, trained for real).
    Search(search_cmd::SearchArgs),
    /// Work on a study shared through PostgreSQL, beside any number of other workers.
    Worker(search_cmd::WorkerArgs),
    /// List a study's trials, or its Pareto front (--pareto), and plot the front (--plot).
    Trials(search_cmd::TrialsArgs),
    /// Compare strategies against random search over many seeds (regret curves).
    Bench(bench_cmd::BenchArgs),
    /// Measure the engine's own per-trial overhead (evaluation excluded).
    BenchEngine(bench_cmd::EngineArgs),
    /// A self-contained HTML report of a study (best-so-far curve, leaderboard, Pareto front,
    /// MAP-Elites map, decision frequencies, drawings of the top architectures).
    Report(report_cmd::ReportArgs),
    /// A live, read-only dashboard of a study in the browser (127.0.0.1:8080 by default).
    Serve(serve_cmd::ServeArgs),
    /// A trial's architecture as JSON, or as a PyTorch nn.Module source file.
    Export(export_cmd::ExportArgs),
    /// Training throughput of a fixed CNN on this machine (compare: bench/train_throughput.sh).
    BenchTrain(bench_train_cmd::BenchTrainArgs),
    /// The MAP-Elites illumination map of a study: coverage, QD-score, map.csv, map.svg.
    Illuminate(illuminate_cmd::IlluminateArgs),
    /// Performance predictors: how well they rank unseen networks (--space, --evaluator), or
    /// one fitted on a study's trials ranking candidates nobody evaluated (--study).
    Predict(predict_cmd::PredictArgs),
    /// Build a benchmark table of one's own: distinct networks of a space, each evaluated
    /// with several seeds, as a CSV the table: evaluator reads.
    Tabulate(tabulate_cmd::TabulateArgs),
    /// Differentiable search (DARTS, GDAS, β-DARTS) over a cell space: the found cell as a
    /// candidate of the space, optionally trained and placed in a table.
    Darts(darts_cmd::DartsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.data {
        // The evaluators read the table's location from the environment, as a library
        // user's program would set it; single-threaded here, before any work starts.
        std::env::set_var("HNAS_DATA", dir);
    }
    hnas_study::set_evaluator_registry(hnas_train::evaluator);
    let result = match cli.command {
        Command::Space(cmd) => space_cmd::run(cmd),
        Command::Search(args) => search_cmd::run_search(args),
        Command::Trials(args) => search_cmd::run_trials(args),
        Command::Worker(args) => search_cmd::run_worker(args),
        Command::Bench(args) => bench_cmd::run_bench(args),
        Command::BenchEngine(args) => bench_cmd::run_engine(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Export(args) => export_cmd::run(args),
        Command::BenchTrain(args) => bench_train_cmd::run(args),
        Command::Illuminate(args) => illuminate_cmd::run_illuminate(args),
        Command::Predict(args) => predict_cmd::run(args),
        Command::Tabulate(args) => tabulate_cmd::run(args),
        Command::Darts(args) => darts_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `hnas trials | head`: the reader has all it wanted; nothing went wrong.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!("error: {}", text.trim_end());
            ExitCode::FAILURE
        }
    }
}
