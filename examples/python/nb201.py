"""NAS-Bench-201 (the table ships with hnas) searched by BANANAS, from Python."""
import hnas

study = hnas.create_study("examples/spaces/nb201.hnas", evaluator="nb201:cifar10", strategy="bananas", seed=0)
study.optimize(n_trials=100)
best = study.best_trial
print(f"best: valid_12 {best.value:.2f}, test_200 {best.metrics['test_200']:.2f}  {best.candidate}")
