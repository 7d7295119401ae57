"""What the paper's teacher learning rate does: LeNet5 on MNIST (T1) with SGD at a constant 0.1 (paper
Sec. 4.3, Table 11) against this package's default (0.05, 5 % warm-up, cosine decay), per epoch and seed.

    python benchmarks/teacher_lr.py --output docs/results/teacher_lr.json --plot docs/results/teacher_lr.png

Prints one line per epoch: held-out accuracy (the MNIST test set) and the last batch's training loss.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch

from lwkd_hf.atomic import atomic_path, atomic_write_json
from lwkd_hf.synthesis import load_mnist
from lwkd_hf.teacher_training import train_teacher

SETTINGS = {"paper: constant 0.1": (0.1, "constant"), "default: 0.05 warm-up + cosine": (0.05, "warmup-cosine")}


def run(mnist, name: str, seed: int, epochs: int, device: str | None) -> dict:
    learning_rate, schedule = SETTINGS[name]
    test = load_mnist(mnist.source, "test")
    curve = []

    def record(epoch, model, loss):
        with torch.no_grad():
            device_of = next(model.parameters()).device
            logits = torch.cat([model(torch.from_numpy(test.images[i : i + 2000]).to(device_of))
                                for i in range(0, len(test.images), 2000)])
        accuracy = float((logits.argmax(1).cpu().numpy() == test.labels).mean())
        curve.append({"epoch": epoch, "test_accuracy": accuracy, "last_batch_loss": loss})
        print(f"{name:32s} seed {seed} epoch {epoch:2d}: test accuracy {100 * accuracy:6.2f} %  loss "
              f"{loss if math.isfinite(loss) else float('nan'):.4f}", flush=True)

    teacher = train_teacher(10, mnist=mnist, epochs=epochs, learning_rate=learning_rate, lr_schedule=schedule,
                            seed=seed, progress=False, device=device, cache_dir=None, on_epoch_end=record)
    return {"setting": name, "learning_rate": learning_rate, "lr_schedule": schedule, "seed": seed,
            "examples": sum(teacher.config.per_class), "epochs": epochs, "curve": curve,
            "final_test_accuracy": teacher.config.test_accuracy, "device": str(next(teacher.model.parameters()).device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LWKD_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--mnist-dir", default=str(Path(data) / "mnist"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", help="default: the GPU when there is one")
    parser.add_argument("--output", type=Path, default=Path("teacher_lr.json"))
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    mnist = load_mnist(args.mnist_dir, "train")
    rows = [run(mnist, name, seed, args.epochs, args.device) for name in SETTINGS for seed in args.seeds]
    atomic_write_json(args.output, {"command": "python benchmarks/teacher_lr.py", "torch": torch.__version__,
                                    "runs": rows})
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for row, color in zip(rows, ["tab:red"] * len(args.seeds) + ["tab:blue"] * len(args.seeds)):
            ax.plot([c["epoch"] for c in row["curve"]], [100 * c["test_accuracy"] for c in row["curve"]],
                    color=color, marker="o", label=f"{row['setting']} (seed {row['seed']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MNIST test accuracy (%)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(args.plot) as tmp:
            fig.savefig(tmp, dpi=110, format="png")


if __name__ == "__main__":
    main()
