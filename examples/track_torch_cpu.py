"""Track a small PyTorch training loop on the CPU, one window per epoch.

pip install torch   # CPU build is enough
python examples/track_torch_cpu.py
"""

from __future__ import annotations

import torch

import carbonlens


def main(epochs: int = 3) -> None:
    """Train a small MLP on random data and print what each epoch cost."""
    torch.manual_seed(0)
    x = torch.randn(4096, 64)
    y = (x[:, :8].sum(dim=1) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    with carbonlens.Tracker(project="examples", name="torch-cpu", country="FR") as tracker:
        for epoch in range(epochs):
            with tracker.window(f"epoch-{epoch}"):
                for batch in range(0, len(x), 256):
                    optimiser.zero_grad()
                    loss = torch.nn.functional.cross_entropy(
                        model(x[batch : batch + 256]), y[batch : batch + 256]
                    )
                    loss.backward()
                    optimiser.step()
            print(f"epoch {epoch}: loss {loss.item():.3f}")
    report = tracker.report
    assert report is not None
    for window in report.windows:
        print(f"{window.name}: {window.it_energy_j:.2f} J, {window.operational_g * 1000:.3f} mg")
    print(report.summary())


if __name__ == "__main__":
    main()
