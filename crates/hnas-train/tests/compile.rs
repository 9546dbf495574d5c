//! Shape inference, parameter and FLOP counts on hand-computed networks, and the errors of
//! networks that cannot exist.

use burn::module::Module;
use hnas_space::{SampleMode, Space};
use hnas_train::net::Unit;
use hnas_train::{compile, Model, Shape, Skeleton, DEFAULT_SPACE};
use proptest::prelude::*;
use rand::SeedableRng;
use serde_json::{json, Value};

const SEQ: Shape = Shape::Seq { c: 1, l: 40 };
const IMG: Shape = Shape::Image { c: 1, h: 28, w: 28 };

fn net(body: Value) -> Value {
    json!({"root": {"op": "net", "args": {"body": body}}})
}

fn err(body: Value, input: Shape) -> String {
    compile(&net(body), input, 10, Skeleton::default())
        .unwrap_err()
        .to_string()
}

/// burn counts batch norm's running statistics among a module's parameters; hnas does not.
fn burn_trainable(k: &hnas_train::Compiled) -> usize {
    let m = Model::init(&k.net, &hnas_train::train::device(), 0);
    let running: usize = k
        .net
        .units
        .iter()
        .map(|u| {
            if let Unit::BatchNorm { c } = u {
                2 * c
            } else {
                0
            }
        })
        .sum();
    m.num_params() - running
}

#[test]
fn a_1d_convolution_counted_by_hand() {
    // conv 1→8, kernel 3, with bias: 8·1·3 + 8 = 32; classifier 8→10: 90.
    // MACs: 40 positions · 8 · 1 · 3 = 960, classifier 80.
    let k = compile(
        &net(json!({"op": "conv", "args": {"channels": 8}})),
        SEQ,
        10,
        Skeleton::default(),
    )
    .unwrap();
    assert_eq!(k.net.params(), 122);
    assert_eq!(k.net.flops(), 1040);
    assert_eq!(burn_trainable(&k), 122);
    assert_eq!(k.net.body.output, Shape::Flat { f: 10 });
}

#[test]
fn an_image_convolution_with_batch_norm_counted_by_hand() {
    // conv 1→16 3×3 without bias (batch norm follows): 144; batch norm: 32; classifier 170.
    // MACs: 28·28·16·9 = 112,896 plus 160.
    let body = json!({"op": "conv", "args": {"channels": 16, "norm": "batch", "act": "relu"}});
    let k = compile(&net(body), IMG, 10, Skeleton::default()).unwrap();
    assert_eq!(k.net.params(), 346);
    assert_eq!(k.net.flops(), 113_056);
    assert_eq!(burn_trainable(&k), 346);
}

#[test]
fn attention_and_pooling_counted_by_hand() {
    // conv 1→8 k1 (16 params), max pool 40→10, attention d=8: 4·(64+8) = 288 params;
    // MACs: conv 40·8 = 320, attention 4·10·64 + 2·10·10·8 = 4,160, classifier 80.
    let body = json!([
        {"op": "conv", "args": {"channels": 8, "kernel": 1}},
        {"op": "max_pool", "args": {"size": 4}},
        {"op": "attention", "args": {"heads": 2}}
    ]);
    let k = compile(&net(body), SEQ, 10, Skeleton::default()).unwrap();
    assert_eq!(k.net.params(), 16 + 288 + 90);
    assert_eq!(k.net.flops(), 320 + 4160 + 80);
    assert_eq!(burn_trainable(&k), 16 + 288 + 90);
}

#[test]
fn shapes_flow_through_reductions_and_residuals() {
    let body = json!([
        {"op": "conv", "args": {"channels": 4, "kernel": 5}},
        {"op": "residual", "args": {"body": {"op": "conv", "args": {"stride": 2, "widen": 2}}}},
        {"op": "avg_pool", "args": {"size": 2}},
        "flatten"
    ]);
    let k = compile(&net(body), SEQ, 10, Skeleton::default()).unwrap();
    // 40 → residual with stride 2 (projected: 1×1 conv 4→8 stride 2) → 20 → pool → 10 → 80.
    let summary = k.net.summary();
    assert!(
        summary.contains("residual (projected) -> 8×20"),
        "{summary}"
    );
    assert!(summary.contains("flatten -> 80"), "{summary}");
    assert_eq!(burn_trainable(&k) as u64, k.net.params());
}

#[test]
fn networks_that_cannot_exist_are_named_with_where() {
    let m = err(
        json!([{"op": "max_pool", "args": {"size": 4}}, {"op": "max_pool", "args": {"size": 4}}, {"op": "max_pool", "args": {"size": 4}}]),
        SEQ,
    );
    assert!(
        m.contains("window 4 does not fit an input of length 2"),
        "{m}"
    );
    assert!(m.starts_with("at root.body.[2].max_pool"), "{m}");
    let m = err(
        json!({"op": "attention", "args": {"heads": 3}}),
        Shape::Seq { c: 8, l: 4 },
    );
    assert!(m.contains("3 heads do not divide 8 channels"), "{m}");
    let m = err(
        json!(["flatten", {"op": "conv", "args": {"channels": 4}}]),
        SEQ,
    );
    assert!(m.contains("its input is flat"), "{m}");
    let m = err(json!({"op": "warp", "args": {}}), SEQ);
    assert!(m.contains("no meaning for operation `warp`"), "{m}");
    let m = err(json!({"op": "conv", "args": {"chanels": 4}}), SEQ);
    assert!(m.contains("unknown argument `chanels`"), "{m}");
    let m = err(
        json!({"op": "add", "args": {"branches": ["identity", {"op": "conv", "args": {"channels": 3}}]}}),
        SEQ,
    );
    assert!(m.contains("branch outputs"), "{m}");
    let m = err(
        json!({"op": "conv", "args": {"channels": 6, "groups": 4}}),
        Shape::Seq { c: 8, l: 4 },
    );
    assert!(m.contains("4 groups do not divide"), "{m}");
}

fn example(name: &str) -> Space {
    let path = format!(
        "{}/../../examples/spaces/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Space::from_file(std::path::Path::new(&path)).unwrap()
}

#[test]
fn the_bundled_network_spaces_compile_and_burn_agrees_on_their_size() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for (space, input) in [
        (example("nb201.hnas"), IMG),
        (example("nb201.hnas"), SEQ),
        (example("mnasnet.hnas"), IMG),
        (example("mlp.hnas"), SEQ),
        (Space::parse("mnist1d.hnas", DEFAULT_SPACE).unwrap(), SEQ),
    ] {
        for _ in 0..5 {
            let c = space.sample(&mut rng, SampleMode::Uniform);
            let k = compile(&space.to_json(&c), input, 10, Skeleton::default())
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", space.file_name(), space.print(&c)));
            assert_eq!(
                k.net.params() as usize,
                burn_trainable(&k),
                "{}",
                space.file_name()
            );
        }
    }
}

#[test]
fn the_nb201_skeleton_stacks_cells_in_three_stages() {
    let space = example("nb201.hnas");
    let c = space.sample(
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
        SampleMode::Uniform,
    );
    let k = compile(
        &space.to_json(&c),
        IMG,
        10,
        Skeleton {
            channels: 8,
            cells: 2,
        },
    )
    .unwrap();
    let s = k.net.summary();
    assert_eq!(s.matches("cell of 4 nodes").count(), 6, "{s}");
    assert!(
        s.contains("-> 32×7×7"),
        "two reductions double 8 to 32 channels and halve 28 to 7: {s}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever a default-space candidate is, it compiles (every shape in that space meets)
    /// to a network ending in the classes, whose count is the sum of its units'.
    #[test]
    fn every_default_space_candidate_compiles(seed in any::<u64>()) {
        let space = Space::parse("mnist1d.hnas", DEFAULT_SPACE).unwrap();
        let c = space.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed), SampleMode::Uniform);
        let k = compile(&space.to_json(&c), SEQ, 10, Skeleton::default());
        prop_assert!(k.is_ok(), "{}: {:?}", space.print(&c), k.err());
        let k = k.unwrap();
        prop_assert_eq!(k.net.body.output, Shape::Flat { f: 10 });
        prop_assert!(k.net.params() > 0 && k.net.flops() > 0);
    }
}
