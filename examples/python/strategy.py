"""A strategy written in Python: propose from "an oracle" (here, the best candidate so far
mutated, with a sample every tenth trial; in practice a language model reading the
outcomes so far), on the NAS-Bench-201 table."""
import hnas


class MutateTheBest(hnas.Strategy):
    deterministic = True  # it draws randomness only from `seed`: resumes replay it

    def __init__(self):
        self.best = None

    def ask(self, trial, seed, pending):
        if self.best is None or trial % 10 == 0:
            return self.space.sample(seed)
        return self.space.mutate(self.best[1], seed)

    def tell(self, outcome):
        if outcome.score is not None and (self.best is None or outcome.score > self.best[0]):
            self.best = (outcome.score, outcome.candidate)


study = hnas.create_study("examples/spaces/nb201.hnas", evaluator="nb201:cifar10", strategy=MutateTheBest(), seed=1)
study.optimize(n_trials=100)
best = study.best_trial
print(f"best: valid_12 {best.value:.2f}, test_200 {best.metrics['test_200']:.2f}  {best.candidate}")
