//! What a study optimizes, and the constraints a candidate must meet.

use crate::Error;
use hnas_eval::Metrics;
use std::fmt;

/// `max:METRIC`, `min:METRIC`, or MnasNet's reward `mnas:ACC,LAT,TARGET[,ALPHA[,BETA]]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// One metric, maximized or minimized.
    Metric { metric: String, maximize: bool },
    /// MnasNet's latency-aware reward (Tan et al., CVPR 2019), maximized:
    /// `ACC · (LAT / TARGET)^w` with `w = ALPHA` when `LAT <= TARGET` and `w = BETA`
    /// otherwise. ALPHA = BETA = -0.07 (the default) is the paper's soft reward; ALPHA = 0,
    /// BETA = -1 its hard one.
    Mnas {
        accuracy: String,
        latency: String,
        target: f64,
        alpha: f64,
        beta: f64,
    },
}

/// MnasNet's exponent for its soft reward.
pub const MNAS_W: f64 = -0.07;

impl Objective {
    /// Parses `max:valid_12`, `min:latency_ms_pi5_onnx`, a bare metric name (maximized), or
    /// `mnas:test_200,latency_ms_pi5_onnx,5` (optionally `,ALPHA` and `,BETA` after it).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::Settings(format!("objective '{text}': {why}"));
        let (dir, rest) = match text.split_once(':') {
            Some(("max", m)) => (Some(true), m),
            Some(("min", m)) => (Some(false), m),
            Some(("mnas", m)) => (None, m),
            Some((d, _)) => {
                return Err(bad(format!(
                    "unknown kind '{d}'; expected max:METRIC, min:METRIC or mnas:ACC,LAT,TARGET"
                )))
            }
            None => (Some(true), text),
        };
        let rest = rest.trim();
        if let Some(maximize) = dir {
            if rest.is_empty() || rest.contains(',') {
                return Err(bad("expected max:METRIC or min:METRIC (one metric)".into()));
            }
            return Ok(Objective::Metric {
                metric: rest.to_string(),
                maximize,
            });
        }
        let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
        if parts.len() < 3 || parts.len() > 5 || parts[0].is_empty() || parts[1].is_empty() {
            return Err(bad(
                "expected mnas:ACCURACY,LATENCY,TARGET[,ALPHA[,BETA]], as in mnas:test_200,latency_ms_pi5_onnx,5".into(),
            ));
        }
        let number = |i: usize, what: &str| -> Result<f64, Error> {
            parts[i]
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{what} '{}' is not a number", parts[i])))
        };
        let target = number(2, "the target")?;
        if target <= 0.0 {
            return Err(bad("the target must be above 0".into()));
        }
        let alpha = if parts.len() > 3 {
            number(3, "ALPHA")?
        } else {
            MNAS_W
        };
        let beta = if parts.len() > 4 {
            number(4, "BETA")?
        } else {
            alpha
        };
        Ok(Objective::Mnas {
            accuracy: parts[0].to_string(),
            latency: parts[1].to_string(),
            target,
            alpha,
            beta,
        })
    }

    /// Whether higher values are better.
    pub fn maximize(&self) -> bool {
        match self {
            Objective::Metric { maximize, .. } => *maximize,
            Objective::Mnas { .. } => true,
        }
    }

    /// The metrics it reads.
    pub fn metrics(&self) -> Vec<&str> {
        match self {
            Objective::Metric { metric, .. } => vec![metric],
            Objective::Mnas {
                accuracy, latency, ..
            } => vec![accuracy, latency],
        }
    }

    /// A short name for tables: the metric, or `mnas_reward`.
    pub fn label(&self) -> &str {
        match self {
            Objective::Metric { metric, .. } => metric,
            Objective::Mnas { .. } => "mnas_reward",
        }
    }

    /// Its value for a trial's metrics (`None` when a metric is missing).
    pub fn value(&self, m: &Metrics) -> Option<f64> {
        match self {
            Objective::Metric { metric, .. } => m.get(metric).copied(),
            Objective::Mnas {
                accuracy,
                latency,
                target,
                alpha,
                beta,
            } => {
                let acc = *m.get(accuracy)?;
                let lat = *m.get(latency)?;
                let w = if lat <= *target { *alpha } else { *beta };
                Some(acc * (lat / target).powf(w))
            }
        }
    }

    /// The strategy's view: higher is better.
    pub fn score(&self, value: f64) -> f64 {
        if self.maximize() {
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
        match self {
            Objective::Metric { metric, maximize } => {
                write!(f, "{}:{metric}", if *maximize { "max" } else { "min" })
            }
            Objective::Mnas {
                accuracy,
                latency,
                target,
                alpha,
                beta,
            } => {
                write!(f, "mnas:{accuracy},{latency},{target},{alpha}")?;
                if beta != alpha {
                    write!(f, ",{beta}")?;
                }
                Ok(())
            }
        }
    }
}

/// `METRIC <= BOUND` or `METRIC >= BOUND`: a hard constraint on a trial's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub metric: String,
    /// `true` for `<=`, `false` for `>=`.
    pub at_most: bool,
    pub bound: f64,
}

impl Constraint {
    /// Parses `latency_ms_pi5_onnx <= 5` (spaces optional).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Settings(format!(
                "constraint '{text}': expected METRIC <= NUMBER or METRIC >= NUMBER, as in latency_ms_pi5_onnx <= 5"
            ))
        };
        let (metric, at_most, bound) = if let Some((m, b)) = text.split_once("<=") {
            (m, true, b)
        } else if let Some((m, b)) = text.split_once(">=") {
            (m, false, b)
        } else {
            return Err(bad());
        };
        let metric = metric.trim();
        let bound = bound
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|b| b.is_finite())
            .ok_or_else(bad)?;
        if metric.is_empty() || metric.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Constraint {
            metric: metric.to_string(),
            at_most,
            bound,
        })
    }

    /// How far `m` breaks it, relative to the bound's size (0 when met; a missing metric
    /// counts as broken by 1).
    pub fn violation(&self, m: &Metrics) -> f64 {
        let Some(&x) = m.get(&self.metric) else {
            return 1.0;
        };
        let over = if self.at_most {
            x - self.bound
        } else {
            self.bound - x
        };
        over.max(0.0) / self.bound.abs().max(1e-12)
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric,
            if self.at_most { "<=" } else { ">=" },
            self.bound
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> Metrics {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn objectives_parse_print_and_evaluate() {
        let o = Objective::parse("min:latency").unwrap();
        assert_eq!(o.to_string(), "min:latency");
        assert!(!o.maximize());
        assert_eq!(o.score(3.0), -3.0);
        assert_eq!(Objective::parse("acc").unwrap().to_string(), "max:acc");
        let m = Objective::parse("mnas:acc,lat,5").unwrap();
        assert_eq!(m.to_string(), "mnas:acc,lat,5,-0.07");
        assert_eq!(Objective::parse(&m.to_string()).unwrap(), m);
        // At the target the reward is the accuracy; twice as slow costs 2^-0.07.
        let at = m.value(&metrics(&[("acc", 90.0), ("lat", 5.0)])).unwrap();
        assert!((at - 90.0).abs() < 1e-12);
        let slow = m.value(&metrics(&[("acc", 90.0), ("lat", 10.0)])).unwrap();
        assert!((slow - 90.0 * 2f64.powf(-0.07)).abs() < 1e-9);
        let fast = m.value(&metrics(&[("acc", 90.0), ("lat", 2.5)])).unwrap();
        assert!(fast > 90.0);
        // The hard form: no bonus below the target, a steep penalty above it.
        let hard = Objective::parse("mnas:acc,lat,5,0,-1").unwrap();
        assert_eq!(hard.to_string(), "mnas:acc,lat,5,0,-1");
        assert_eq!(
            hard.value(&metrics(&[("acc", 90.0), ("lat", 2.5)])),
            Some(90.0)
        );
        assert_eq!(
            hard.value(&metrics(&[("acc", 90.0), ("lat", 10.0)])),
            Some(45.0)
        );
        assert_eq!(hard.value(&metrics(&[("acc", 90.0)])), None);
        for bad in [
            "up:acc",
            "max:",
            "max:a,b",
            "mnas:acc,lat",
            "mnas:acc,lat,x",
            "mnas:acc,lat,0",
        ] {
            assert!(Objective::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn constraints_parse_and_measure_violation() {
        let c = Constraint::parse("latency_ms <= 5").unwrap();
        assert_eq!(c.to_string(), "latency_ms <= 5");
        assert_eq!(Constraint::parse("latency_ms<=5").unwrap(), c);
        assert_eq!(c.violation(&metrics(&[("latency_ms", 4.0)])), 0.0);
        assert_eq!(c.violation(&metrics(&[("latency_ms", 5.0)])), 0.0);
        assert!((c.violation(&metrics(&[("latency_ms", 6.0)])) - 0.2).abs() < 1e-12);
        assert_eq!(c.violation(&metrics(&[])), 1.0);
        let g = Constraint::parse("acc >= 90").unwrap();
        assert_eq!(g.violation(&metrics(&[("acc", 91.0)])), 0.0);
        assert!((g.violation(&metrics(&[("acc", 81.0)])) - 0.1).abs() < 1e-12);
        for bad in ["lat < 5", "lat <= x", "<= 5", "a b <= 5"] {
            assert!(Constraint::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
