//! Constraints between decisions (`where`, `bypass = false`) and declared symmetries
//! (`output = leaves`, `@unordered`): exact counts, uniform sampling, enumeration,
//! derivation, mutation, and canonical hashes checked against brute force.

use hnas_space::{Candidate, Node, Point, SampleMode, Space};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, HashMap, HashSet};

const MLP: &str = "net = mlp(a = act, b = act, width = {32, 64, 128}, depth = {1, 2, 3}) where a != b and not (width == 128 and depth == 3)
act = relu | gelu | tanh
";

const MLP_FREE: &str = "net = mlp(a = act, b = act, width = {32, 64, 128}, depth = {1, 2, 3})
act = relu | gelu | tanh
";

/// The condition of [`MLP`], read off a printed candidate.
fn mlp_allowed(line: &str) -> bool {
    let field = |k: &str| {
        line.split(&[',', '(', ')'][..])
            .find_map(|p| p.strip_prefix(&format!("{k}=")).map(str::to_string))
            .unwrap()
    };
    field("a") != field("b") && !(field("width") == "128" && field("depth") == "3")
}

fn space(text: &str) -> Space {
    Space::parse("t.hnas", text).unwrap_or_else(|d| panic!("{}", d.render()))
}

#[test]
fn where_counts_exactly_the_members_that_satisfy_it() {
    let s = space(MLP);
    let free = space(MLP_FREE);
    let want: BTreeSet<String> = free
        .enumerate()
        .unwrap()
        .map(|c| free.print(&c))
        .filter(|l| mlp_allowed(l))
        .collect();
    assert_eq!(want.len(), 48);
    assert_eq!(s.size().to_string(), "48");
    let got: Vec<String> = s.enumerate().unwrap().map(|c| s.print(&c)).collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(got.len(), 48, "enumeration repeats a member");
    for (i, c) in s.enumerate().unwrap().enumerate() {
        assert_eq!(s.rank(&c).unwrap(), i.into());
    }
}

#[test]
fn a_condition_may_span_lines() {
    let s =
        space("net = f(a = {1, 2, 3}, b = v)\n    where a != 1\n      and not b in {q}\nv = p | q");
    assert_eq!(s.size().to_string(), "2");
}

#[test]
fn where_sampling_is_uniform_over_the_allowed_members() {
    let s = space(MLP);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut freq: HashMap<String, u32> = HashMap::new();
    let n = 48 * 400;
    for _ in 0..n {
        let c = s.sample(&mut rng, SampleMode::Uniform);
        let line = s.print(&c);
        assert!(mlp_allowed(&line), "{line}");
        *freq.entry(line).or_default() += 1;
    }
    assert_eq!(freq.len(), 48);
    // 400 expected per member; 5 standard deviations is about ±100.
    for (line, k) in freq {
        assert!((300..=500).contains(&k), "{line} drawn {k} times");
    }
}

#[test]
fn a_candidate_breaking_the_condition_is_refused_with_the_reason() {
    let s = space(MLP);
    let e = s
        .parse_candidate("mlp(a=relu,b=relu,width=32,depth=1)")
        .unwrap_err();
    assert!(e.message.contains("where a != b"), "{}", e.message);
    assert!(s
        .parse_candidate("mlp(a=relu,b=gelu,width=32,depth=1)")
        .is_ok());
}

#[test]
fn where_errors_name_the_problem() {
    for (text, want) in [
        (
            "net = f(a = {1, 2}) where b == 1",
            "not an argument of this operation",
        ),
        (
            "net = f(a = {1, 2}) where a == 3",
            "never takes the value 3",
        ),
        (
            "net = f(a = x) where a == y\nx = p | q",
            "'y' is none of them",
        ),
        ("net = f(a = {1, 2}) where a == 1 and a == 2", "never holds"),
        ("net = f(a = float(0, 1)) where a == 1", "can test a set"),
        (
            "net = f where a == 1",
            "follows an operation with arguments",
        ),
        (
            "net = f(a = {1, 2}) where a >= 1",
            "'==', '!=', 'in' or 'not in'",
        ),
        (
            "net = dag(nodes = 3, edge = op, bypass = false)\nop = a | b",
            "identity = OP",
        ),
        ("@unordered g\nnet = f(a = {1, 2})", "no operation 'g'"),
        (
            "net = f(a = {1, 2}) where a = 1",
            "a test compares with '=='",
        ),
        (
            "net = f(a = {1, 2})\n  where a == 1 and\nx = p | q",
            "the next line starts rule 'x'",
        ),
    ] {
        let d = Space::parse("t.hnas", text).unwrap_err().render();
        assert!(d.contains(want), "{text}\n{d}");
        assert!(d.contains("t.hnas:"), "{d}");
    }
}

/// Random chooser: any option with a positive weight.
fn derive_random(s: &Space, rng: &mut ChaCha8Rng) -> Candidate {
    s.derive(&mut |p: &Point<'_>| {
        let ok: Vec<u32> = (0..p.arity)
            .filter(|&i| p.weights[i as usize] > 0.0)
            .collect();
        ok[rng.random_range(0..ok.len())]
    })
}

const GRAPH: &str = "net = dag(nodes = 5, fan_in = 1, edge = layer, identity = skip, output = leaves, bypass = false)
layer = gcn | gat | gin | cheb | sage | arma | graph | fc | skip
";

/// A small instance: three layers of two types or skip.
const SMALL: &str = "net = dag(nodes = 4, fan_in = 1, edge = layer, identity = skip, output = leaves, bypass = false)
layer = a | b | skip
";

/// A cell of a `fan_in = 1` space as (source, op) per layer.
fn layers(c: &Candidate) -> Vec<(usize, String)> {
    let Node::Choice { kids, .. } = &c.root else {
        panic!()
    };
    let Node::Dag(edges) = &kids[0] else { panic!() };
    let names = [
        "gcn", "gat", "gin", "cheb", "sage", "arma", "graph", "fc", "skip",
    ];
    let small = ["a", "b", "skip"];
    let n = edges
        .iter()
        .map(|e| match &e.op {
            Node::Choice { alt, .. } => *alt as usize,
            _ => panic!(),
        })
        .collect::<Vec<_>>();
    let table = if n.iter().all(|&a| a < 3) && edges.len() == 3 {
        &small[..]
    } else {
        &names[..]
    };
    edges
        .iter()
        .zip(n)
        .map(|(e, a)| (e.from as usize, table[a].to_string()))
        .collect()
}

/// Whether the input reaches an unread layer through `skip` layers only (written from the
/// description of the benchmark, not from hnas's code).
fn bypasses(l: &[(usize, String)]) -> bool {
    let n = l.len() + 1;
    let read: HashSet<usize> = l.iter().map(|(s, _)| *s).collect();
    (1..n).filter(|j| !read.contains(j)).any(|leaf| {
        let mut j = leaf;
        while j != 0 {
            if l[j - 1].1 != "skip" {
                return false;
            }
            j = l[j - 1].0;
        }
        true
    })
}

#[test]
fn bypass_false_removes_exactly_the_cells_with_an_all_skip_path() {
    let s = space(GRAPH);
    let free = space(&GRAPH.replace(", bypass = false", ""));
    assert_eq!(free.size().to_string(), "157464");
    assert_eq!(s.size().to_string(), "138960");
    let small = space(SMALL);
    let small_free = space(&SMALL.replace(", bypass = false", ""));
    let want: BTreeSet<String> = small_free
        .enumerate()
        .unwrap()
        .filter(|c| !bypasses(&layers(c)))
        .map(|c| small_free.print(&c))
        .collect();
    let got: Vec<String> = small
        .enumerate()
        .unwrap()
        .map(|c| small.print(&c))
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    for (i, c) in small.enumerate().unwrap().enumerate() {
        assert_eq!(small.rank(&c).unwrap(), i.into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut freq: HashMap<String, u32> = HashMap::new();
    let members = small.size().to_string().parse::<u32>().unwrap();
    for _ in 0..members * 200 {
        let c = small.sample(&mut rng, SampleMode::Uniform);
        assert!(!bypasses(&layers(&c)));
        *freq.entry(small.print(&c)).or_default() += 1;
    }
    assert_eq!(freq.len() as u32, members);
    for (line, k) in freq {
        assert!(
            (120..=290).contains(&k),
            "{line} drawn {k} times, expected about 200"
        );
    }
}

/// A network after contracting `skip`: layers (op, parent) with parent 0 the input, and
/// the set of nodes feeding the output.
struct Net {
    layers: Vec<(String, usize)>,
    feeds: BTreeSet<usize>,
}

fn contract(l: &[(usize, String)]) -> Net {
    let n = l.len() + 1;
    let mut alias = vec![0usize; n];
    let mut index = vec![0usize; n];
    let mut layers = Vec::new();
    for j in 1..n {
        let (src, op) = &l[j - 1];
        if op == "skip" {
            alias[j] = alias[*src];
        } else {
            layers.push((op.clone(), index[alias[*src]]));
            index[j] = layers.len();
            alias[j] = j;
        }
    }
    let read: HashSet<usize> = l.iter().map(|(s, _)| *s).collect();
    let feeds = (1..n)
        .filter(|j| !read.contains(j))
        .map(|j| index[alias[j]])
        .collect();
    Net { layers, feeds }
}

/// Brute force: some relabelling of the layers maps one network onto the other.
fn isomorphic(x: &Net, y: &Net) -> bool {
    let k = x.layers.len();
    if k != y.layers.len() || x.feeds.len() != y.feeds.len() {
        return false;
    }
    let mut perm: Vec<usize> = (0..k).collect();
    loop {
        // perm[i]: y's layer for x's layer i (layers numbered from 1; 0 is the input).
        let map = |i: usize| if i == 0 { 0 } else { perm[i - 1] + 1 };
        let same = (0..k).all(|i| {
            let (op, p) = &x.layers[i];
            let (op2, p2) = &y.layers[perm[i]];
            op == op2 && map(*p) == *p2
        }) && x.feeds.iter().map(|&f| map(f)).collect::<BTreeSet<_>>() == y.feeds;
        if same {
            return true;
        }
        if !next_permutation(&mut perm) {
            return false;
        }
    }
}

fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap();
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

#[test]
fn canonical_hash_is_exactly_isomorphism_on_a_small_graph_space() {
    let s = space(SMALL);
    let all: Vec<Candidate> = s.enumerate().unwrap().collect();
    let nets: Vec<Net> = all.iter().map(|c| contract(&layers(c))).collect();
    let keys: Vec<u64> = all.iter().map(|c| s.canonical_key(c)).collect();
    let mut pairs = 0;
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            let iso = isomorphic(&nets[i], &nets[j]);
            assert_eq!(
                keys[i] == keys[j],
                iso,
                "{} vs {}",
                s.print(&all[i]),
                s.print(&all[j])
            );
            pairs += iso as u32;
        }
    }
    assert!(pairs > 0, "no two forms were the same network");
    let networks = s.networks(1_000).unwrap().len();
    assert!(
        networks < all.len(),
        "{networks} networks in {} forms",
        all.len()
    );
}

#[test]
fn a_layer_read_twice_is_not_two_copies_of_it() {
    let s = space(GRAPH);
    // One sage read by gcn and gat, against two sages each read by one of them.
    let shared = s
        .parse_candidate("dag(0>1:sage,1>2:gcn,1>3:gat,3>4:skip)")
        .unwrap();
    let copies = s
        .parse_candidate("dag(0>1:sage,0>2:sage,1>3:gcn,2>4:gat)")
        .unwrap();
    assert_ne!(s.canonical_key(&shared), s.canonical_key(&copies));
    // Relabelled layers and a contracted skip: the same network.
    let a = s
        .parse_candidate("dag(0>1:gcn,1>2:gat,0>3:fc,3>4:skip)")
        .unwrap();
    let b = s
        .parse_candidate("dag(0>1:fc,0>2:gcn,2>3:gat,1>4:skip)")
        .unwrap();
    assert_eq!(s.canonical_key(&a), s.canonical_key(&b));
}

#[test]
fn unordered_operations_hash_their_arguments_as_a_set() {
    let s = space(
        "@unordered add\nnet = add(x = branch, y = branch)\nbranch = conv(k = {3, 5}) | pool",
    );
    let a = s.parse_candidate("add(x=conv(k=3),y=pool)").unwrap();
    let b = s.parse_candidate("add(x=pool,y=conv(k=3))").unwrap();
    let c = s.parse_candidate("add(x=pool,y=conv(k=5))").unwrap();
    assert_eq!(s.canonical_key(&a), s.canonical_key(&b));
    assert_ne!(s.canonical_key(&a), s.canonical_key(&c));
    assert_ne!(s.fingerprint(&a), s.fingerprint(&b));
    // 3 x 3 forms; {conv3, conv5, pool} as a multiset of two: 6 networks.
    assert_eq!(s.networks(100).unwrap().len(), 6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn derivation_mutation_and_crossover_stay_in_a_constrained_space(seed in any::<u64>(), which in 0usize..2) {
        let s = space(if which == 0 { MLP } else { GRAPH });
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let c = derive_random(&s, &mut rng);
        prop_assert!(s.is_member(&c), "{}", s.print(&c));
        prop_assert_eq!(&s.parse_candidate(&s.print(&c)).unwrap(), &c);
        let d = s.decisions(&c);
        let mut it = d.iter();
        let again = s.derive(&mut |_p: &Point<'_>| it.next().unwrap().choice);
        prop_assert_eq!(&again, &c);
        let m = s.mutate(&c, &mut rng);
        prop_assert!(s.is_member(&m) && m != c, "{}", s.print(&m));
        for n in s.neighbours(&c) {
            prop_assert!(s.is_member(&n), "{}", s.print(&n));
        }
        let other = s.sample(&mut rng, SampleMode::Uniform);
        if let Some(x) = s.crossover(&c, &other, &mut rng) {
            prop_assert!(s.is_member(&x));
        }
    }
}

#[test]
fn weisfeiler_lehman_features_ignore_node_numbering_and_keep_counts() {
    let s = space(
        "cell = dag(nodes = 4, edge = op, zero = none, identity = skip_connect)\nop = none | skip_connect | nor_conv_1x1 | nor_conv_3x3 | avg_pool_3x3",
    );
    let a = s
        .parse_candidate("dag(0>1:nor_conv_3x3,0>2:avg_pool_3x3,1>2:none,0>3:skip_connect,1>3:nor_conv_1x1,2>3:nor_conv_3x3)")
        .unwrap();
    // Nodes 1 and 2 swapped: the same cell.
    let b = s
        .parse_candidate("dag(0>1:avg_pool_3x3,0>2:nor_conv_3x3,1>2:none,0>3:skip_connect,1>3:nor_conv_3x3,2>3:nor_conv_1x1)")
        .unwrap();
    // One operation changed.
    let c = s
        .parse_candidate("dag(0>1:nor_conv_3x3,0>2:avg_pool_3x3,1>2:none,0>3:skip_connect,1>3:nor_conv_3x3,2>3:nor_conv_3x3)")
        .unwrap();
    assert_ne!(s.print(&a), s.print(&b));
    assert_eq!(s.dag_wl(&a, 2), s.dag_wl(&b, 2));
    assert_ne!(s.dag_wl(&a, 2), s.dag_wl(&c, 2));
    // Round 0 is the label counts: c has two 3x3 convolutions, `none` edges are no nodes.
    let wl = s.dag_wl(&c, 0);
    assert!(wl.contains(&"cell:0:nor_conv_3x3#2".to_string()), "{wl:?}");
    assert!(!wl.iter().any(|f| f.contains("none")), "{wl:?}");
    assert_eq!(wl.iter().filter(|f| f.starts_with("cell:0:in")).count(), 1);
}

#[test]
fn a_switch_to_a_constrained_alternative_is_a_neighbour() {
    let s = space("net = a_op(x = {1, 2}) | b_op(p = {1, 2}, q = {1, 2}) where p != q");
    let c = s.parse_candidate("a_op(x=1)").unwrap();
    let n: Vec<String> = s.neighbours(&c).iter().map(|n| s.print(n)).collect();
    // b_op's default derivation (p = 1, q = 1) breaks its condition: its first member stands in.
    assert!(n.iter().any(|l| l.starts_with("b_op(")), "{n:?}");
    assert!(n.iter().all(|l| s.parse_candidate(l).is_ok()), "{n:?}");
}
