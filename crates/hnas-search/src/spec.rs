//! Naming and configuring strategies: `rea` or `rea:population=50,sample=10`.

use crate::{Error, Grid, LocalSearch, RandomSearch, RegularizedEvolution, Strategy};
use hnas_space::Space;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every strategy name [`build`] accepts.
pub const STRATEGIES: &[&str] = &["random", "rea", "ls", "grid"];

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
            "unknown strategy 'bogus'; expected one of: random, rea, ls, grid"
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
