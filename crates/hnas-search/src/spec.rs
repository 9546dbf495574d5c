//! Naming and configuring strategies: `rea` or `rea:population=50,sample=10`.

use crate::{
    Acquisition, Bananas, BananasConfig, Descriptor, Error, Grid, LocalSearch, MapElites, Mcts,
    QLearningEvolution, RandomSearch, RegularizedEvolution, Strategy, Tpe,
};
use hnas_space::Space;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every strategy name [`build`] accepts.
pub const STRATEGIES: &[&str] = &[
    "random",
    "rea",
    "ls",
    "grid",
    "mcts",
    "tpe",
    "bananas",
    "qlearn",
    "mapelites",
];

/// A strategy name with its parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StrategySpec {
    pub name: String,
    pub params: BTreeMap<String, String>,
}

impl StrategySpec {
    /// Parses `name` or `name:key=value,key=value`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (name, rest) = text.split_once(':').unwrap_or((text, ""));
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::Malformed(text.into()));
        }
        let mut params = BTreeMap::new();
        for kv in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::Malformed(text.into()))?;
            params.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(StrategySpec {
            name: name.to_string(),
            params,
        })
    }

    fn check_params(&self, allowed: &[&str]) -> Result<(), Error> {
        for k in self.params.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(Error::UnknownParam {
                    strategy: self.name.clone(),
                    param: k.clone(),
                    expected: if allowed.is_empty() {
                        "(none)".into()
                    } else {
                        allowed.join(", ")
                    },
                });
            }
        }
        Ok(())
    }

    fn param_or_zero(&self, key: &str, default: usize) -> Result<usize, Error> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| Error::BadParam {
                param: key.into(),
                value: v.clone(),
                why: "expected a whole number".into(),
            }),
        }
    }

    fn usize_param(&self, key: &str, default: usize) -> Result<usize, Error> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::BadParam {
                    param: key.into(),
                    value: v.clone(),
                    why: "expected a positive whole number".into(),
                }),
        }
    }
}

impl StrategySpec {
    fn f64_param(
        &self,
        key: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        want: &str,
    ) -> Result<f64, Error> {
        match self.params.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && ok(*x))
                .ok_or_else(|| Error::BadParam {
                    param: key.into(),
                    value: v.clone(),
                    why: format!("expected {want}"),
                }),
        }
    }
}

impl std::fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        for (i, (k, v)) in self.params.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { ':' } else { ',' })?;
        }
        Ok(())
    }
}

/// Builds the strategy a spec names.
pub fn build(spec: &StrategySpec, space: Arc<Space>) -> Result<Box<dyn Strategy>, Error> {
    Ok(match spec.name.as_str() {
        "random" => {
            spec.check_params(&[])?;
            Box::new(RandomSearch::new(space))
        }
        "rea" => {
            spec.check_params(&["population", "sample"])?;
            let p = spec.usize_param("population", 30)?;
            let s = spec.usize_param("sample", 10)?;
            if s > p {
                return Err(Error::BadParam {
                    param: "sample".into(),
                    value: s.to_string(),
                    why: format!("the tournament cannot be larger than the population ({p})"),
                });
            }
            Box::new(RegularizedEvolution::new(space, p, s))
        }
        "ls" => {
            spec.check_params(&[])?;
            Box::new(LocalSearch::new(space))
        }
        "grid" => {
            spec.check_params(&[])?;
            Box::new(Grid::new(space)?)
        }
        "mcts" => {
            spec.check_params(&["c"])?;
            Box::new(Mcts::new(
                space,
                spec.f64_param("c", 0.25, |x| x >= 0.0, "a number >= 0")?,
            ))
        }
        "tpe" => {
            spec.check_params(&["startup", "gamma", "candidates"])?;
            Box::new(Tpe::new(
                space,
                spec.usize_param("startup", 10)?,
                spec.f64_param(
                    "gamma",
                    0.15,
                    |x| x > 0.0 && x < 1.0,
                    "a fraction between 0 and 1",
                )?,
                spec.usize_param("candidates", 24)?,
            ))
        }
        "bananas" => {
            spec.check_params(&[
                "startup",
                "ensemble",
                "hidden",
                "dims",
                "pool",
                "random",
                "parents",
                "acquisition",
                "local",
                "paths",
            ])?;
            let d = BananasConfig::default();
            let cfg = BananasConfig {
                startup: spec.usize_param("startup", d.startup)?,
                ensemble: spec.usize_param("ensemble", d.ensemble)?,
                hidden: spec.usize_param("hidden", d.hidden)?,
                dims: spec.usize_param("dims", d.dims)?,
                pool: spec.usize_param("pool", d.pool)?,
                random: spec.param_or_zero("random", d.random)?,
                parents: spec.usize_param("parents", d.parents)?,
                paths: match spec.params.get("paths").map(String::as_str) {
                    None | Some("0") | Some("false") => false,
                    Some("1") | Some("true") => true,
                    Some(other) => {
                        return Err(Error::BadParam {
                            param: "paths".into(),
                            value: other.into(),
                            why: "expected 0 or 1".into(),
                        })
                    }
                },
                local: spec.f64_param(
                    "local",
                    d.local,
                    |x| (0.0..=1.0).contains(&x),
                    "a probability between 0 and 1",
                )?,
                acquisition: match spec.params.get("acquisition").map(String::as_str) {
                    None | Some("its") => Acquisition::Thompson,
                    Some("mean") => Acquisition::Mean,
                    Some("ucb") => Acquisition::Ucb,
                    Some(other) => {
                        return Err(Error::BadParam {
                            param: "acquisition".into(),
                            value: other.into(),
                            why: "expected its, mean or ucb".into(),
                        })
                    }
                },
            };
            Box::new(Bananas::new(space, cfg))
        }
        "qlearn" => {
            spec.check_params(&["population", "sample"])?;
            Box::new(QLearningEvolution::new(
                space,
                spec.usize_param("population", 30)?,
                spec.usize_param("sample", 10)?,
            ))
        }
        "mapelites" => {
            spec.check_params(&["x", "y", "z", "init"])?;
            let descriptors: Vec<Descriptor> = ["x", "y", "z"]
                .iter()
                .filter_map(|k| spec.params.get(*k))
                .map(|v| Descriptor::parse(v))
                .collect::<Result<_, _>>()?;
            if descriptors.is_empty() {
                return Err(Error::BadParam {
                    param: "x".into(),
                    value: String::new(),
                    why: "MAP-Elites needs at least one behaviour descriptor, as in mapelites:x=latency_ms_pi5_onnx:0:10:10,y=count.nor_conv_3x3:0:6:7".into(),
                });
            }
            Box::new(MapElites::new(
                space,
                descriptors,
                spec.usize_param("init", 20)?,
            ))
        }
        other => return Err(Error::Unknown(other.into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_print_and_reject_nonsense() {
        let s = StrategySpec::parse("rea:population=50, sample=5").unwrap();
        assert_eq!(s.to_string(), "rea:population=50,sample=5");
        let space = crate::testing::synthetic();
        assert!(build(&s, space.clone()).is_ok());
        let err = |t: &str| {
            build(&StrategySpec::parse(t).unwrap(), space.clone())
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            err("bogus"),
            "unknown strategy 'bogus'; expected one of: random, rea, ls, grid, mcts, tpe, bananas, qlearn, mapelites"
        );
        assert_eq!(
            err("rea:pop=3"),
            "strategy 'rea' has no parameter 'pop'; expected one of: population, sample"
        );
        assert!(err("rea:population=0").contains("expected a positive whole number"));
        assert!(err("rea:population=5,sample=9").contains("cannot be larger than the population"));
        assert!(StrategySpec::parse("rea:population").is_err());
    }
}
