import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__version__: str

class Candidate:
    """A member of the space."""
    string: str
    hash: str
    canonical_hash: str
    def to_dict(self) -> Dict[str, Any]: ...
    def to_torch(
        self,
        input: Union[str, Tuple[int, ...]],
        classes: int,
        channels: int = 16,
        cells: int = 1,
    ) -> str: ...

class Space:
    """A study's space, as a Python strategy sees it."""
    size: str
    def sample(self, seed: int, weighted: bool = False) -> Candidate: ...
    def mutate(self, candidate: Union[Candidate, str], seed: int) -> Candidate: ...
    def crossover(self, a: Union[Candidate, str], b: Union[Candidate, str], seed: int) -> Optional[Candidate]: ...
    def candidate(self, line: str) -> Candidate: ...

class Outcome:
    trial: int
    score: Optional[float]
    metrics: Dict[str, float]
    candidate: Candidate

class Trial:
    number: int
    state: str
    value: Optional[float]
    metrics: Dict[str, float]
    error: Optional[str]
    duplicate_of: Optional[int]
    fidelity: Optional[float]
    started_at: float
    finished_at: Optional[float]
    feasible: bool
    candidate: Candidate

class Study:
    def __init__(
        self,
        space: str,
        space_name: str,
        strategy: Any,
        evaluator: Optional[str],
        objectives: List[str],
        constraints: List[str],
        report: List[str],
        storage: Optional[str],
        seed: int,
        dedup: str,
    ) -> None: ...
    def optimize(
        self,
        func: Optional[Callable[[Candidate], Union[float, Dict[str, float]]]] = None,
        n_trials: int = 100,
        timeout: Optional[float] = None,
        jobs: int = 1,
    ) -> int: ...
    def ask(self) -> Optional[Trial]: ...
    def tell(self, trial: Union[Trial, int], outcome: Union[float, Dict[str, float], BaseException, str]) -> None: ...
    @property
    def trials(self) -> List[Trial]: ...
    @property
    def best_trial(self) -> Optional[Trial]: ...
    def leaderboard(self, k: int = 10) -> List[Trial]: ...
    def pareto_front(self) -> List[Trial]: ...
    def trials_dataframe(self) -> Any: ...
    def report(self, dir: Union[str, "os.PathLike[str]"], top: int = 5) -> List[str]: ...
    @property
    def n_counted(self) -> int: ...
    @property
    def settings(self) -> Dict[str, Any]: ...
    @property
    def storage(self) -> Optional[str]: ...
    def candidate(self, line: str) -> Candidate: ...

def check_space(text: str, name: str) -> str: ...
def stored_settings(location: str) -> Optional[str]: ...
