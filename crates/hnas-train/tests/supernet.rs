//! One-shot weight sharing: weights shared by place, resumable training, scoring that does not
//! depend on what was scored before, and the spaces a supernet refuses.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use hnas_eval::Evaluator;
use hnas_space::Space;
use hnas_train::data::{mnist1d, Dataset};
use hnas_train::model::Forward;
use hnas_train::oneshot::OneShotEvaluator;
use hnas_train::supernet::{Supernet, SupernetConfig, SupernetError};
use hnas_train::{Compiled, Model, Skeleton};

fn nb201() -> Space {
    let path = format!(
        "{}/../../examples/spaces/nb201.hnas",
        env!("CARGO_MANIFEST_DIR")
    );
    Space::parse("nb201.hnas", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn small_data(n: usize) -> Dataset {
    let mut d = mnist1d();
    d.train = d.train.truncated(n, d.input.numel());
    d
}

const SKELETON: Skeleton = Skeleton {
    channels: 4,
    cells: 1,
};

fn config(epochs: usize) -> SupernetConfig {
    SupernetConfig {
        epochs,
        batch: 32,
        calibrate: 64,
        ..SupernetConfig::default()
    }
}

// A and B share the 3×3 convolution on edge 0→1; C has a 1×1 convolution there.
const A: &str = "dag(0>1:nor_conv_3x3,0>2:nor_conv_1x1,1>2:skip_connect,0>3:avg_pool_3x3,1>3:nor_conv_3x3,2>3:nor_conv_3x3)";
const B: &str =
    "dag(0>1:nor_conv_3x3,0>2:none,1>2:skip_connect,0>3:none,1>3:skip_connect,2>3:skip_connect)";
const C: &str =
    "dag(0>1:nor_conv_1x1,0>2:none,1>2:skip_connect,0>3:none,1>3:skip_connect,2>3:skip_connect)";

fn compiled(net: &Supernet, space: &Space, text: &str) -> Compiled {
    net.compile(space, &space.parse_candidate(text).unwrap())
        .unwrap()
}

fn logits(c: &Compiled, model: &Model, data: &Dataset) -> Vec<f32> {
    let x = Tensor::<4>::from_data(
        TensorData::new(data.valid.x[..8 * 40].to_vec(), [8, 1, 1, 40]),
        &hnas_train::train::device(),
    );
    Forward {
        net: &c.net,
        model: &model.valid(),
        dropout: None,
        probe: None,
    }
    .logits(x)
    .into_data()
    .try_to_vec::<f32>()
    .unwrap()
}

struct Zero;

impl ModuleMapper for Zero {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, t, mapper) = p.consume();
        Param::from_mapped_value(id, t.zeros_like(), mapper)
    }
}

#[test]
fn changing_one_options_weights_changes_every_network_with_that_option_and_no_other() {
    let space = nb201();
    let data = small_data(128);
    let mut net = Supernet::new(&space, &data, SKELETON, config(1)).unwrap();
    net.train(&space, &data, None, None, &mut |_| {}).unwrap();
    let (a, b, c) = (
        compiled(&net, &space, A),
        compiled(&net, &space, B),
        compiled(&net, &space, C),
    );
    let before: Vec<Vec<f32>> = [&a, &b, &c]
        .iter()
        .map(|x| logits(x, &net.inherit(x).0, &data))
        .collect();
    // Zero the weights of A's convolution on edge 0→1 (its first unit made there).
    let slot = a
        .unit_paths
        .iter()
        .position(|p| p.contains("edge 0->1.nor_conv_3x3") && p.ends_with("#0"))
        .expect("a unit on edge 0->1");
    let mut model = net.inherit(&a).0;
    let unit = model.units.remove(slot);
    model.units.insert(slot, unit.map(&mut Zero));
    net.put(&a, model);
    let after: Vec<Vec<f32>> = [&a, &b, &c]
        .iter()
        .map(|x| logits(x, &net.inherit(x).0, &data))
        .collect();
    assert_ne!(before[0], after[0], "A uses the changed weights");
    assert_ne!(before[1], after[1], "B shares them");
    assert_eq!(before[2], after[2], "C has another option on that edge");
}

#[test]
fn a_resumed_supernet_continues_from_its_saved_state() {
    let space = nb201();
    let data = small_data(320);
    let whole = tempdir("whole");
    let cut = tempdir("cut");
    let mut straight = Supernet::new(&space, &data, SKELETON, config(2)).unwrap();
    straight
        .train(&space, &data, None, Some(&whole), &mut |_| {})
        .unwrap();
    // Stopped after one epoch (a killed process), then opened from disk and finished.
    let mut first = Supernet::new(&space, &data, SKELETON, config(2)).unwrap();
    first
        .train(&space, &data, Some(1), Some(&cut), &mut |_| {})
        .unwrap();
    drop(first);
    let mut resumed = Supernet::open(&cut, &space, &data, SKELETON, config(2)).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    resumed
        .train(&space, &data, None, Some(&cut), &mut |_| {})
        .unwrap();
    assert_eq!(resumed.epochs_done(), 2);
    assert_eq!(resumed.shared_units(), straight.shared_units());
    for text in [A, B, C] {
        let x = compiled(&straight, &space, text);
        // Batch norms' running statistics are not kept (a score recalibrates them): the
        // scores compare the weights and what the optimizer did with them.
        let s1 = straight.score(&x, &data).unwrap();
        let s2 = resumed.score(&x, &data).unwrap();
        assert_eq!(s1.accuracy, s2.accuracy);
        assert!((s1.loss - s2.loss).abs() < 1e-9, "{s1:?} vs {s2:?}");
    }
    for (p, q) in straight.epoch_losses().iter().zip(resumed.epoch_losses()) {
        assert!((p - q).abs() < 1e-6);
    }
    // A supernet of other settings is not silently reused.
    let other = SupernetConfig {
        seed: 7,
        ..config(2)
    };
    let err = Supernet::open(&cut, &space, &data, SKELETON, other)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("another space"), "{err}");
}

#[test]
fn scores_learn_and_do_not_depend_on_what_was_scored_before() {
    let space = nb201();
    let data = small_data(1000);
    let fresh = Supernet::new(&space, &data, SKELETON, config(3)).unwrap();
    let mut net = Supernet::new(&space, &data, SKELETON, config(3)).unwrap();
    net.train(&space, &data, None, None, &mut |_| {}).unwrap();
    let losses = net.epoch_losses();
    assert!(losses[2] < losses[0], "{losses:?}");
    let (a, c) = (compiled(&net, &space, A), compiled(&net, &space, C));
    let first = net.score(&a, &data).unwrap();
    let _ = net.score(&c, &data).unwrap();
    let again = net.score(&a, &data).unwrap();
    assert_eq!(first.accuracy, again.accuracy);
    assert_eq!(first.loss, again.loss);
    // Inherited trained weights beat the same networks' untrained ones.
    let mean = |n: &Supernet| {
        [A, B, C]
            .iter()
            .map(|t| n.score(&compiled(n, &space, t), &data).unwrap().loss)
            .sum::<f64>()
            / 3.0
    };
    let untrained = fresh.score(&a, &data).unwrap();
    assert_eq!(untrained.untrained, a.net.units.len());
    assert!(
        mean(&net) < mean(&fresh) - 0.1,
        "{} vs {}",
        mean(&net),
        mean(&fresh)
    );
}

#[test]
fn a_choice_of_training_setting_is_refused_naming_it() {
    let space = Space::parse(
        "lr.hnas",
        "net = net(body = c, lr = {0.1, 0.01})\nc = conv(channels = 4, kernel = 3)",
    )
    .unwrap();
    let data = small_data(64);
    let err = Supernet::new(&space, &data, SKELETON, config(1))
        .err()
        .expect("refused");
    assert!(matches!(err, SupernetError::Unsupported(_)));
    assert!(err.to_string().contains("`lr`"), "{err}");
}

#[test]
fn the_oneshot_evaluator_scores_at_rung_zero_and_trains_above_it() {
    let space = nb201();
    let dir = tempdir("evaluator");
    let mut ev = OneShotEvaluator::parse(&format!(
        "mnist1d,epochs=1,train_size=200,channels=4,calibrate=64,file={}",
        dir.display()
    ))
    .unwrap();
    ev.verbose = false;
    assert_eq!(ev.fidelities()[0], 0.0);
    assert!(ev.cost(None) < ev.cost(Some(1.0)));
    let c = space.parse_candidate(A).unwrap();
    let m = ev.evaluate(&space, &c, None).unwrap();
    assert_eq!(m["epochs"], 0.0);
    assert!(m["accuracy"] >= 0.0 && m["accuracy"] <= 100.0);
    assert!(dir.join("meta.json").exists(), "the supernet is kept");
    let t = ev.evaluate(&space, &c, Some(1.0)).unwrap();
    assert_eq!(t["epochs"], 1.0);
    assert!(t.contains_key("test_accuracy"));
    let bad = OneShotEvaluator::parse("mnist1d,rule=greedy")
        .err()
        .unwrap();
    assert!(bad.to_string().contains("uniform or sandwich"), "{bad}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-supernet-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

mod darts {
    use super::*;
    use hnas_train::darts::{search, DartsConfig, DartsError, Method, Selection};

    // With `none` on its one edge the cell passes nothing, and every later stage sees a
    // constant: `skip_connect` is strictly better by construction.
    fn two_options() -> Space {
        Space::parse(
            "two.hnas",
            "cell = dag(nodes = 2, edge = op, zero = none, identity = skip_connect)\nop = none | skip_connect",
        )
        .unwrap()
    }

    fn run(method: Method, selection: Selection) -> hnas_train::darts::DartsResult {
        let space = two_options();
        let data = small_data(256);
        let cfg = DartsConfig {
            method,
            selection,
            epochs: 2,
            batch: 32,
            arch_lr: 0.01,
            tune_steps: 2,
            select_examples: 100,
            ..DartsConfig::default()
        };
        search(&space, &data, SKELETON, &cfg, &mut |_, _, _| {}).unwrap()
    }

    #[test]
    fn architecture_steps_descend_the_relaxed_loss() {
        // The weights frozen (learning rate 0): what the α half's loss does is α's doing.
        let space = nb201();
        let data = small_data(512);
        for method in [Method::Darts, Method::Beta, Method::Pc] {
            let cfg = DartsConfig {
                method,
                partial: 2,
                epochs: 4,
                batch: 64,
                lr: 0.0,
                arch_lr: 0.1,
                beta: 0.0,
                ..DartsConfig::default()
            };
            let r = search(&space, &data, SKELETON, &cfg, &mut |_, _, _| {}).unwrap();
            let l = &r.arch_losses;
            assert!(l[3] < l[0] - 0.01, "{}: {l:?}", method.name());
            assert!(
                r.weights.iter().any(|w| w.iter().any(|&x| x > 0.3)),
                "{:?}",
                r.weights
            );
        }
    }

    #[test]
    fn perturbation_keeps_the_option_whose_removal_costs_most() {
        let r = run(Method::Darts, Selection::Perturb);
        assert_eq!(r.chosen, [1]);
    }

    #[test]
    fn partial_channels_still_move_alpha_to_the_better_option() {
        // Under PC-DARTS `none` zeroes only the edge's first half of channels (the rest pass
        // by), so skip_connect's edge is better by less; α still moves to it.
        let space = two_options();
        let data = small_data(256);
        let cfg = DartsConfig {
            method: Method::Pc,
            partial: 2,
            epochs: 3,
            batch: 32,
            arch_lr: 0.05,
            ..DartsConfig::default()
        };
        let r = search(&space, &data, SKELETON, &cfg, &mut |_, _, _| {}).unwrap();
        assert_eq!(r.chosen, [1], "{:?}", r.weights);
        assert!(r.weights[0][1] > 0.55, "{:?}", r.weights);
        // K must divide the skeleton's channels.
        let odd = DartsConfig { partial: 3, ..cfg };
        let err = search(&space, &data, SKELETON, &odd, &mut |_, _, _| {}).unwrap_err();
        assert!(err.to_string().contains("multiple of K"), "{err}");
    }

    #[test]
    fn a_space_that_is_not_one_cell_is_refused_with_the_reason() {
        let space = Space::parse("n.hnas", hnas_train::DEFAULT_SPACE).unwrap();
        let err = search(
            &space,
            &small_data(64),
            SKELETON,
            &DartsConfig::default(),
            &mut |_, _, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, DartsError::Unsupported(_)));
        assert!(err.to_string().contains("dag"), "{err}");
    }
}

/// BigNAS-style slicing: widths and kernels chosen as parameters of one operation.
mod slicing {
    use super::*;
    use hnas_train::model::UnitModule;
    use hnas_train::supernet::Share;

    const WIDTHS: &str =
        "net = cnn(stem = stem, stages = repeat(stage, 2, 2), pool = \"global_avg_pool\")
stem = conv(channels = {4, 8}, kernel = {3, 5}, norm = \"batch\", act = \"relu\")
stage = stack(blocks = repeat(block, 1, 1), down = down)
down = max_pool(size = 2)
block = conv(channels = {4, 8}, kernel = {3, 5}, norm = \"batch\", act = \"relu\")";

    fn space() -> Space {
        Space::parse("widths.hnas", WIDTHS).unwrap()
    }

    fn net(space: &Space, share: Share) -> Supernet {
        let cfg = SupernetConfig { share, ..config(1) };
        Supernet::new(space, &small_data(256), SKELETON, cfg).unwrap()
    }

    fn candidate(sn: &Supernet, space: &Space, w: usize, k: usize) -> Compiled {
        let unit = format!("conv(channels={w},kernel={k},norm=\"batch\",act=\"relu\")");
        let stage = format!("stack(blocks=[{unit}],down=max_pool(size=2))");
        let text = format!("cnn(stem={unit},stages=[{stage},{stage}],pool=global_avg_pool)");
        compiled(sn, space, &text)
    }

    /// The first convolution's weight `[out, in, 1, k]`, as a nested vector.
    fn stem_weight(model: &Model) -> Vec<Vec<Vec<f32>>> {
        let UnitModule::Conv(c) = &model.units[0] else {
            panic!("the stem's convolution comes first")
        };
        let [o, i, _, k] = c.weight.dims();
        let v: Vec<f32> = c.weight.val().into_data().try_to_vec::<f32>().unwrap();
        (0..o)
            .map(|a| {
                (0..i)
                    .map(|b| v[(a * i + b) * k..(a * i + b + 1) * k].to_vec())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_narrow_small_kernel_unit_is_the_leading_centred_slice_of_the_wide_one() {
        let space = space();
        for share in [Share::Slice, Share::Shape] {
            let mut sn = net(&space, share);
            let wide = candidate(&sn, &space, 8, 5);
            let narrow = candidate(&sn, &space, 4, 3);
            let (wm, _) = sn.inherit(&wide);
            sn.put(&wide, wm);
            let units = sn.shared_units();
            let (nm, fresh) = sn.inherit(&narrow);
            match share {
                Share::Slice => assert_eq!(fresh, 0, "every narrow unit is a slice"),
                Share::Shape => assert_eq!(fresh, narrow.net.units.len()),
            }
            sn.put(&narrow, nm);
            match share {
                Share::Slice => assert_eq!(sn.shared_units(), units),
                Share::Shape => assert_eq!(sn.shared_units(), units + narrow.net.units.len()),
            }
        }
        let mut sn = net(&space, Share::Slice);
        let wide = candidate(&sn, &space, 8, 5);
        let narrow = candidate(&sn, &space, 4, 3);
        let (wm, _) = sn.inherit(&wide);
        sn.put(&wide, wm);
        let (w, n) = (
            stem_weight(&sn.inherit(&wide).0),
            stem_weight(&sn.inherit(&narrow).0),
        );
        assert_eq!((w.len(), w[0][0].len()), (8, 5));
        assert_eq!((n.len(), n[0][0].len()), (4, 3));
        for o in 0..4 {
            // The centre three of five taps.
            assert_eq!(n[o][0], w[o][0][1..4].to_vec());
        }
        // An edit of the narrow network's weights is an edit of that slice of the wide
        // network's, and of nothing else.
        let (nm, _) = sn.inherit(&narrow);
        let edited = nm.map(&mut Fill(0.5));
        sn.put(&narrow, edited);
        let after = stem_weight(&sn.inherit(&wide).0);
        for o in 0..8 {
            for t in 0..5 {
                let inside = o < 4 && (1..4).contains(&t);
                let expected = if inside { 0.5 } else { w[o][0][t] };
                assert_eq!(after[o][0][t], expected, "out {o} tap {t}");
            }
        }
    }

    #[test]
    fn a_unit_met_small_first_grows_and_keeps_what_it_held() {
        let space = space();
        let mut sn = net(&space, Share::Slice);
        let narrow = candidate(&sn, &space, 4, 3);
        let (nm, _) = sn.inherit(&narrow);
        sn.put(&narrow, nm.map(&mut Fill(0.25)));
        let units = sn.shared_units();
        let wide = candidate(&sn, &space, 8, 5);
        let (_, fresh) = sn.inherit(&wide);
        assert_eq!(fresh, wide.net.units.len(), "not met at this size yet");
        // Meeting the wide network grows the shared units instead of adding new ones.
        sn.meet(&wide);
        assert_eq!(sn.shared_units(), units);
        assert_eq!(sn.inherit(&wide).1, 0);
        let (nm, fresh) = sn.inherit(&narrow);
        assert_eq!(fresh, 0);
        assert!(stem_weight(&nm)
            .iter()
            .flatten()
            .flatten()
            .all(|v| *v == 0.25));
    }

    #[test]
    fn training_through_slices_reaches_the_shared_weights_and_resumes() {
        let space = space();
        let data = small_data(256);
        let dir = tempdir("slices");
        let mut sn = Supernet::new(&space, &data, SKELETON, config(2)).unwrap();
        assert_eq!(sn.config().share, Share::Slice, "slicing is the default");
        sn.train(&space, &data, Some(1), Some(&dir), &mut |_| {})
            .unwrap();
        let narrow = candidate(&sn, &space, 4, 3);
        let before = stem_weight(&sn.inherit(&narrow).0);
        // Every shared unit serves all four width × kernel choices at its place: the stem's
        // convolution and batch norm, and each stage's.
        assert_eq!(sn.shared_units(), 2 + 2 * 2 + 1);
        let mut resumed = Supernet::open(&dir, &space, &data, SKELETON, config(2)).unwrap();
        assert_eq!(resumed.shared_units(), sn.shared_units());
        assert_eq!(stem_weight(&resumed.inherit(&narrow).0), before);
        resumed
            .train(&space, &data, None, Some(&dir), &mut |_| {})
            .unwrap();
        let after = stem_weight(&resumed.inherit(&narrow).0);
        assert_ne!(
            after, before,
            "the second epoch's steps reached the narrow slice"
        );
        let s = resumed.score(&narrow, &data).unwrap();
        assert_eq!(s.untrained, 0);
        assert!(s.loss.is_finite());
    }

    /// Sets every float parameter to one value.
    struct Fill(f32);

    impl ModuleMapper for Fill {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, t, mapper) = param.consume();
            Param::from_mapped_value(id, t.ones_like().mul_scalar(self.0), mapper)
        }
    }
}
