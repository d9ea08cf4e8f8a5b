"""Check that ``covtype_like`` makes linear models behave as on Covertype.

Prints, for the generated table: generation time; test accuracy and
per-class recall of a multinomial logistic regression (scikit-learn, lbfgs)
on standardised features, without and with inverse-frequency class weights
(SPEC §3.6, §10.3); how close a plain mini-batch Adam softmax regression
gets to lbfgs after each epoch; optionally gradient-boosted trees, to show
structure a linear model cannot use.

Usage::

    python benchmarks/covtype_like_check.py [--n-rows 581012] [--seed 0]
        [--epochs 15] [--trees]

Needs scikit-learn (``pip install lodgepole[bench]``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from lodgepole.datasets import LABEL_NAMES, covtype_like, split_channels

Channels = dict[str, tuple[np.ndarray, np.ndarray]]


def recalls(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Recall of each of the 7 classes."""
    return np.array([np.mean(predicted[labels == c] == c) for c in range(7)])


def fit_lbfgs(channels: Channels, balanced: bool) -> tuple[np.ndarray, float]:
    """Test predictions and fit seconds of an lbfgs softmax regression."""
    X, y = channels["train"]
    weights = None
    if balanced:
        counts = np.bincount(y.astype(int), minlength=7)
        weights = {c: len(y) / n for c, n in enumerate(counts)}
    start = time.perf_counter()
    model = LogisticRegression(C=1e4, max_iter=2000, class_weight=weights).fit(X, y)
    seconds = time.perf_counter() - start
    return model.predict(channels["test"][0]), seconds


def adam_accuracies(
    channels: Channels, epochs: int, batch: int = 1000, lr: float = 0.005
) -> list[float]:
    """Test accuracy after each epoch of mini-batch Adam softmax regression."""
    X, y = channels["train"]
    Xt, yt = channels["test"]
    rng = np.random.default_rng(0)
    onehot = np.eye(7, dtype=np.float32)[y.astype(int)]
    params = [np.zeros((X.shape[1], 7), np.float32), np.zeros(7, np.float32)]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    step, history = 0, []
    for _ in range(epochs):
        for rows in np.array_split(rng.permutation(len(y)), max(1, len(y) // batch)):
            scores = X[rows] @ params[0] + params[1]
            prob = np.exp(scores - scores.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            error = (prob - onehot[rows]) / len(rows)
            grads = [X[rows].T @ error, error.sum(axis=0)]
            step += 1
            for p, g, m, v in zip(params, grads, first, second, strict=True):
                m += 0.1 * (g - m)
                v += 0.001 * (g * g - v)
                m_hat = m / (1 - 0.9**step)
                v_hat = v / (1 - 0.999**step)
                p -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        predicted = (Xt @ params[0] + params[1]).argmax(axis=1)
        history.append(float(np.mean(predicted == yt)))
    return history


def report(
    name: str, labels: np.ndarray, predicted: np.ndarray, seconds: float
) -> None:
    rec = recalls(labels, predicted)
    print(
        f"\n{name}: accuracy {np.mean(predicted == labels):.4f} (fit {seconds:.1f} s)"
    )
    for c, label in enumerate(LABEL_NAMES):
        print(f"  recall {label:<18s} {rec[c]:.3f}")
    print(f"  minimum recall            {rec.min():.3f}")
    aspen, cotton = labels == 4, labels == 3
    print(f"  Aspen -> Lodgepole Pine   {np.mean(predicted[aspen] == 1):.3f}")
    print(f"  Cottonwood -> Ponderosa   {np.mean(predicted[cotton] == 2):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=581_012)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--trees", action="store_true", help="also fit boosted trees")
    args = parser.parse_args()

    start = time.perf_counter()
    dataset = covtype_like(args.n_rows, seed=args.seed)
    seconds = time.perf_counter() - start
    print(f"covtype_like({args.n_rows}, seed={args.seed}): {seconds:.2f} s")
    raw = split_channels(dataset, seed=args.seed)
    scaler = StandardScaler().fit(raw["train"][0])
    channels = {
        name: (scaler.transform(X).astype(np.float32), y)
        for name, (X, y) in raw.items()
    }
    y_test = channels["test"][1]

    plain, seconds = fit_lbfgs(channels, balanced=False)
    report("lbfgs, no class weights", y_test, plain, seconds)
    weighted, seconds = fit_lbfgs(channels, balanced=True)
    report("lbfgs, class weights 1/frequency", y_test, weighted, seconds)

    reference = float(np.mean(plain == y_test))
    history = adam_accuracies(channels, args.epochs)
    print(f"\nmini-batch Adam (batch 1000, lr 0.005), lbfgs reference {reference:.4f}")
    for epoch, accuracy in enumerate(history, start=1):
        print(
            f"  epoch {epoch:2d}: accuracy {accuracy:.4f} ({accuracy - reference:+.4f})"
        )

    if args.trees:
        from sklearn.ensemble import HistGradientBoostingClassifier

        X, y = raw["train"]
        start = time.perf_counter()
        trees = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, y)
        predicted = trees.predict(raw["test"][0])
        report("gradient-boosted trees", y_test, predicted, time.perf_counter() - start)


if __name__ == "__main__":
    main()
