"""Quality against training time of a run, from its `history.csv`, as a PNG and JSON.

    python bench/curve.py RUN [--png docs/training_curve.png] [--out bench/curve.json]

Plots, against the cumulative training wall-clock minutes (`epoch_seconds`, summed over the
epochs, resumes included), the validation PESQ-WB and STOI (`val_pesq`, `val_stoi`: the epochs
where `train.eval_every` scored them, on `train.eval_clips` fixed validation mixtures) and the
validation loss. Validation mixtures are the run's own (unseen speakers, seen noise
recordings), so the curve says when training stops paying, not what a test set scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path


def read_curve(run: Path) -> dict[str, list[float | None]]:
    """Columns minutes, epoch, val_loss, val_pesq, val_stoi (None where not scored)."""
    path = run / "history.csv"
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist (is '{run}' a run folder?)")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    curve: dict[str, list[float | None]] = {
        k: [] for k in ("minutes", "epoch", "val_loss", "val_pesq", "val_stoi")
    }
    total = 0.0
    for row in rows:
        total += float(row.get("epoch_seconds") or 0.0)
        curve["minutes"].append(round(total / 60.0, 2))
        curve["epoch"].append(int(float(row["epoch"])))
        for key in ("val_loss", "val_pesq", "val_stoi"):
            value = row.get(key)
            curve[key].append(float(value) if value not in (None, "") else None)
    return curve


def plot(curve: dict[str, list[float | None]], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    scored = [i for i, v in enumerate(curve["val_pesq"]) if v is not None]
    minutes = [curve["minutes"][i] for i in scored]
    axes[0].plot(minutes, [curve["val_pesq"][i] for i in scored], "o-", label="PESQ-WB")
    axes[0].set_ylabel("validation PESQ-WB")
    twin = axes[0].twinx()
    twin.plot(minutes, [curve["val_stoi"][i] for i in scored], "s--", color="tab:orange")
    twin.set_ylabel("validation STOI (dashed)")
    axes[1].plot(curve["minutes"], curve["val_loss"], ".-", color="tab:green")
    axes[1].set_ylabel("validation loss")
    for ax in axes:
        ax.set_xlabel("training wall-clock minutes (2 CPU cores)")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run folder (history.csv)")
    parser.add_argument("--png", default="docs/training_curve.png")
    parser.add_argument("--out", default="bench/curve.json")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    run = Path(args.run)
    curve = read_curve(run)
    plot(curve, Path(args.png), args.title or f"training curve: {run}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": str(run), **curve}, indent=2) + "\n", encoding="utf-8")
    for m, e, p, s in zip(  # history.csv counts epochs from 0
        curve["minutes"], curve["epoch"], curve["val_pesq"], curve["val_stoi"], strict=True
    ):
        if p is not None:
            print(f"{m:7.1f} min  epoch {e + 1:3d}  val PESQ-WB {p:.3f}  val STOI {s:.3f}")
    print(f"wrote {args.png} and {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
