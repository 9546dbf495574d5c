#!/usr/bin/env python3
"""A deterministic toy scorer for examples/spaces/agent.hnas: hnas's external-command
evaluator runs it once per trial.

It reads the candidate from the JSON file named by $HNAS_CANDIDATE (the "tree" field is the
candidate's JSON tree) and prints one JSON object line with two metrics:

- quality: a made-up task score in [0, 100]: stronger models help, sampling and ensembling
  help with diminishing returns, ranking/verification help only after something generated
  several answers, critique rounds help a little, high temperatures hurt;
- cost: a made-up price per query: model price times the calls each layer makes.

Nothing here is a real LLM: it shows a non-neural pipeline searched end to end.
  hnas search --space examples/spaces/agent.hnas \
      --evaluator 'command:["python3","examples/agent/score.py"]' \
      --strategy nsga2 --objective max:quality --objective min:cost --budget 200
"""
import json
import math
import os
import sys

SKILL = {"small_llm": 0.45, "medium_llm": 0.60, "large_llm": 0.72, "code_llm": 0.62}
PRICE = {"small_llm": 0.2, "medium_llm": 1.0, "large_llm": 4.0, "code_llm": 1.2}


def layer_of(node):
    """A layer node of the tree: (kind, arguments)."""
    return node["op"], node.get("args", {})


def model(arg):
    return arg["op"] if isinstance(arg, dict) else str(arg)


def score(tree):
    layers = tree["root"]["args"]["layers"]
    layers = layers if isinstance(layers, list) else [layers]
    quality, cost, candidates = 0.0, 0.0, 1
    for node in layers:
        kind, a = layer_of(node)
        temp = float(a.get("temperature", 0.5))
        heat = max(0.0, temp - 0.8) * 0.3
        if kind == "generate":
            m, n = model(a["model"]), int(a["samples"])
            q = SKILL[m] * (1 - math.exp(-0.6 * n)) / (1 - math.exp(-0.6)) ** 0.2
            quality = max(quality, q - heat)
            cost += PRICE[m] * n
            candidates = n
        elif kind == "ensemble":
            ms = [model(x) for x in a["models"]]
            q = sum(SKILL[m] for m in ms) / len(ms) + 0.04 * (len(set(ms)) - 1)
            quality = max(quality, q - heat)
            cost += sum(PRICE[m] for m in ms)
            candidates = len(ms)
        elif kind == "rank":
            m, keep = model(a["model"]), int(a["keep"])
            if candidates > 1:
                quality += 0.05 * SKILL[m] * math.log(candidates) / keep
            cost += PRICE[m] * 0.3 * candidates
            candidates = keep
        elif kind == "fuse":
            m = model(a["model"])
            quality += 0.03 * SKILL[m] * (candidates - 1) - heat
            cost += PRICE[m] * 0.5
            candidates = 1
        elif kind == "critique":
            m, rounds = model(a["model"]), int(a["rounds"])
            quality += 0.02 * SKILL[m] * math.sqrt(rounds)
            cost += PRICE[m] * rounds
        elif kind == "verify":
            m, n = model(a["model"]), int(a["samples"])
            if candidates > 1:
                quality += 0.04 * SKILL[m] * (1 - math.exp(-0.5 * n))
            cost += PRICE[m] * 0.2 * n * candidates
    return {"quality": round(100 * min(quality, 1.0), 6), "cost": round(cost, 6)}


def main():
    with open(os.environ["HNAS_CANDIDATE"]) as f:
        job = json.load(f)
    print(f"scoring trial {job['trial']}: {job['candidate']}", file=sys.stderr)
    print(json.dumps(score(job["tree"])))


if __name__ == "__main__":
    main()
