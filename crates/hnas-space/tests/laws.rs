//! Laws that hold for every candidate of every example space (proptest).

mod common;
use common::{example, EXAMPLES};
use hnas_space::{SampleMode, Space};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;

fn spaces() -> &'static Vec<(&'static str, Space)> {
    static S: OnceLock<Vec<(&'static str, Space)>> = OnceLock::new();
    S.get_or_init(|| EXAMPLES.iter().map(|n| (*n, example(n))).collect())
}

fn mode(weighted: bool) -> SampleMode {
    if weighted {
        SampleMode::Weighted
    } else {
        SampleMode::Uniform
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn samples_are_members_and_both_forms_round_trip(seed: u64, weighted: bool) {
        for (name, s) in spaces() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = s.sample(&mut rng, mode(weighted));
            prop_assert!(s.is_member(&c), "{name}: {:?}", s.validate(&c));
            let line = s.print(&c);
            prop_assert_eq!(&s.parse_candidate(&line).unwrap(), &c, "{}: {}", name, line);
            let json = s.to_json(&c);
            let text = serde_json::to_string(&json).unwrap();
            prop_assert_eq!(&s.json_string(&c), &text, "{}: the direct writer agrees with the tree", name);
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&s.from_json(&back).unwrap(), &c, "{}: {}", name, text);
            prop_assert_eq!(s.fingerprint(&c), s.fingerprint(&s.parse_candidate(&line).unwrap()));
        }
    }

    #[test]
    fn mutations_stay_in_the_space_and_change_the_candidate(seed: u64) {
        for (name, s) in spaces() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = s.sample(&mut rng, SampleMode::Uniform);
            let m = s.mutate(&c, &mut rng);
            prop_assert!(s.is_member(&m), "{name}: {:?}", s.validate(&m));
            prop_assert_ne!(&m, &c, "{}: mutation changed nothing", name);
            // Every kind of site, applied explicitly.
            for site in s.mutation_sites(&c) {
                let m = s.mutate_at(&c, &site, SampleMode::Weighted, &mut rng);
                prop_assert!(s.is_member(&m), "{name} at {:?}: {:?}", site.kind, s.validate(&m));
            }
        }
    }

    #[test]
    fn crossover_children_are_members(seed: u64) {
        for (name, s) in spaces() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let a = s.sample(&mut rng, SampleMode::Weighted);
            let b = s.sample(&mut rng, SampleMode::Weighted);
            if let Some(child) = s.crossover(&a, &b, &mut rng) {
                prop_assert!(s.is_member(&child), "{name}: {:?}", s.validate(&child));
                prop_assert_ne!(&child, &a);
            }
        }
    }

    #[test]
    fn neighbours_are_distinct_members_one_step_away(seed: u64) {
        for (name, s) in spaces() {
            if *name == "einspace" {
                continue; // deep trees: covered by the smaller spaces and the unit test below
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = s.sample(&mut rng, SampleMode::Uniform);
            let ns = s.neighbours(&c);
            let set: std::collections::HashSet<_> = ns.iter().collect();
            prop_assert_eq!(set.len(), ns.len());
            for n in &ns {
                prop_assert!(s.is_member(n), "{name}: {:?}", s.validate(n));
                prop_assert_ne!(n, &c);
            }
        }
    }

    #[test]
    fn replaying_a_candidates_decisions_derives_it_again(seed: u64) {
        for (name, s) in spaces() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = s.sample(&mut rng, SampleMode::Uniform);
            let ds = s.decisions(&c);
            let mut it = ds.iter();
            let again = s.derive(&mut |p| {
                let d = it.next().expect("as many decision points as decisions");
                assert_eq!((p.key, p.arity, p.kind), (d.key, d.arity, d.kind), "{name}");
                d.choice
            });
            prop_assert!(it.next().is_none(), "{}: every decision used", name);
            prop_assert!(s.is_member(&again), "{name}: {:?}", s.validate(&again));
            if !s.is_continuous() {
                prop_assert_eq!(&again, &c, "{}", name);
            } else {
                // Continuous values come back as the centres of their bins: same decisions.
                prop_assert_eq!(s.decisions(&again).iter().map(|d| d.choice).collect::<Vec<_>>(), ds.iter().map(|d| d.choice).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn rank_inverts_unrank(seed: u64) {
        for (name, s) in spaces() {
            if s.is_continuous() {
                continue;
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let c = s.sample(&mut rng, SampleMode::Uniform);
            let r = s.rank(&c).unwrap();
            prop_assert!(r < s.size());
            prop_assert_eq!(&s.unrank(&r).unwrap(), &c, "{}", name);
        }
    }
}

#[test]
fn an_nb201_cell_is_six_edge_decisions_of_five_options() {
    let s = example("nb201");
    let c = s.unrank(&12345u32.into()).unwrap();
    let ds = s.decisions(&c);
    assert_eq!(ds.len(), 6);
    assert!(ds
        .iter()
        .all(|d| d.arity == 5 && d.kind == hnas_space::DecisionKind::EdgeOp));
    let keys: std::collections::HashSet<u64> = ds.iter().map(|d| d.key).collect();
    assert_eq!(keys.len(), 6, "each edge is its own decision");
}

#[test]
fn every_nb201_cell_has_24_neighbours() {
    let s = example("nb201");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..50 {
        let c = s.sample(&mut rng, SampleMode::Uniform);
        assert_eq!(s.neighbours(&c).len(), 24, "6 edges x 4 other operations");
    }
}

#[test]
fn sampling_is_deterministic_for_a_seed() {
    for (name, s) in spaces() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..5)
                .map(|_| s.print(&s.sample(&mut rng, SampleMode::Weighted)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(11), draw(11), "{name}");
        assert_ne!(draw(11), draw(12), "{name}");
    }
}
