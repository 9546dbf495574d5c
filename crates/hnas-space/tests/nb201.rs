//! NAS-Bench-201: the example space against the real table.

mod common;
use std::collections::{HashMap, HashSet};

#[test]
fn every_table_string_converts_to_a_candidate_and_back() {
    let Some(rows) = common::nb201_rows() else {
        return;
    };
    let space = common::example("nb201");
    assert_eq!(rows.len(), 15625);
    let mut seen = HashSet::new();
    for (_, arch, _) in &rows {
        let c = space.from_nb201(arch).unwrap();
        assert!(space.is_member(&c));
        assert_eq!(&space.to_nb201(&c).unwrap(), arch);
        assert_eq!(space.parse_candidate(&space.print(&c)).unwrap(), c);
        assert!(
            seen.insert(space.fingerprint(&c)),
            "fingerprint collision at {arch}"
        );
    }
}

#[test]
fn canonical_hash_merges_isomorphic_cells() {
    let Some(rows) = common::nb201_rows() else {
        return;
    };
    let space = common::example("nb201");
    let mut classes: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, arch, _) in &rows {
        let c = space.from_nb201(arch).unwrap();
        classes
            .entry(space.canonical_hash(&c))
            .or_default()
            .push(*i);
    }
    // The hardware table measured one network per isomorphism class: every class we merge
    // must carry one latency value.
    let lat: HashMap<usize, &str> = rows.iter().map(|(i, _, l)| (*i, l.as_str())).collect();
    let mut mixed = 0;
    for members in classes.values() {
        let vals: HashSet<&str> = members.iter().map(|i| lat[i]).collect();
        if vals.len() > 1 {
            mixed += 1;
        }
    }
    let lat_classes: HashSet<&str> = lat.values().copied().collect();
    eprintln!(
        "NB201: {} strings, {} canonical classes, {} latency classes, {} classes with mixed latency",
        rows.len(),
        classes.len(),
        lat_classes.len(),
        mixed
    );
    assert_eq!(classes.len(), 6466);
    assert_eq!(
        mixed, 0,
        "a merged class holds cells with different measured latency"
    );
}

#[test]
fn forms_group_every_cell_under_its_network() {
    let space = common::example("nb201");
    let forms = space
        .forms(50_000)
        .expect("15,625 cells are within the limit");
    assert_eq!(forms.len(), 6466);
    let mut total = 0;
    let mut seen = HashSet::new();
    for (key, group) in &forms {
        for c in group {
            assert_eq!(space.canonical_key(c), *key);
            assert!(seen.insert(space.fingerprint(c)), "a form listed twice");
        }
        total += group.len();
    }
    assert_eq!(total, 15625);
    // A lone 3x3 convolution from the input to the output: whatever the three edges into
    // the intermediate nodes hold, they are dead, and all 125 cells are forms of it.
    const OPS: [&str; 5] = [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ];
    let lone = |a: &str, b: &str, c: &str| {
        space
            .from_nb201(&format!(
                "|{a}~0|+|{b}~0|{c}~1|+|nor_conv_3x3~0|none~1|none~2|"
            ))
            .unwrap()
    };
    let group = &forms[&space.canonical_key(&lone("none", "none", "none"))];
    for a in OPS {
        for b in OPS {
            for c in OPS {
                assert!(group.contains(&lone(a, b, c)), "{a} {b} {c}");
            }
        }
    }
    assert!(space.forms(15_624).is_none());
    assert!(
        common::example("mlp").forms(u64::MAX).is_none(),
        "continuous"
    );
}
