"""Fine-tuning an imported network in the core's own arithmetic (docs/nir.md, "Fine-tuning").

The imported DelaySNN is trained as `delay_training` trains (hardware-mode forward pass, surrogate
spike gradient, straight-through quantisers, delays learned in steps, Adam with a cosine schedule,
cross-entropy on the readout averaged over time) on a task's training split; the epoch with the best validation
accuracy is kept (the epoch before any training counts too, so it never gets worse on
validation). Seeded: the same seed gives the same network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from delay_training.model import DelaySNN


def fine_tune(model: DelaySNN, splits, epochs: int, seed: int = 0, lr: float = 1e-2,
              lr_delay: float = 0.1, batch_size: int = 50, log=print) -> list[dict]:
    """Train `model` in place for `epochs` epochs; it ends at the best-validation state.
    Returns one record per epoch (epoch 0: as imported)."""
    from delay_training.train import evaluate
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.param_groups(lr, lr_delay))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    train = splits.train
    best = (evaluate(model, splits.val)["acc"], 0, _state(model))
    history = [{"epoch": 0, "val_acc": best[0]}]
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(train.n_samples, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for i in range(0, train.n_samples, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(train.spikes[idx])["logits"], train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clamp_latents_()
        sched.step()
        model.eval()
        val = evaluate(model, splits.val)["acc"]
        history.append({"epoch": epoch, "val_acc": val, "train_loss": float(loss.detach())})
        log(f"fine-tune epoch {epoch}/{epochs}: validation {100 * val:.2f} %")
        if val > best[0]:
            best = (val, epoch, _state(model))
    model.load_state_dict(best[2])
    model.eval()
    history.append({"selected_epoch": best[1], "val_acc": best[0]})
    return history


def _state(model: DelaySNN) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
