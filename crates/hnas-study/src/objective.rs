//! The quantity a study optimizes.

use crate::Error;
use std::fmt;

/// `max:METRIC` or `min:METRIC`.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: String,
    pub maximize: bool,
}

impl Objective {
    /// Parses `max:valid_12`, `min:latency_ms_pi5_onnx`, or a bare metric name (maximized).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (dir, metric) = match text.split_once(':') {
            Some(("max", m)) => (true, m),
            Some(("min", m)) => (false, m),
            Some((d, _)) => {
                return Err(Error::Settings(format!(
                    "objective '{text}': unknown direction '{d}'; expected max:METRIC or min:METRIC"
                )))
            }
            None => (true, text),
        };
        if metric.is_empty() {
            return Err(Error::Settings(format!(
                "objective '{text}' names no metric; expected max:METRIC or min:METRIC"
            )));
        }
        Ok(Objective {
            metric: metric.to_string(),
            maximize: dir,
        })
    }

    /// The strategy's view: higher is better.
    pub fn score(&self, value: f64) -> f64 {
        if self.maximize {
            value
        } else {
            -value
        }
    }

    /// Whether `a` is better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        self.score(a) > self.score(b)
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            if self.maximize { "max" } else { "min" },
            self.metric
        )
    }
}
