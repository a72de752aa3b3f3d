"""Block forms of depth-muP training: one step equals autograd SGD, dense = lazy, records."""
from __future__ import annotations

import math

import pytest
import torch

from reference_impl.activations import activation
from reference_impl.protocol import NetSpec, SpecError
from reference_impl.training import Run, TrainConfig, draw_frozen_layers, make_task, train

FORMS = {  # name: (NetSpec fields, TrainConfig fields)
    "pre": ({"block": "res1", "preact": True}, {}),
    "post": ({"block": "res1", "preact": False}, {"post_branch_input": "h"}),
    "post_phi": ({"block": "res1", "preact": False}, {"post_branch_input": "phi"}),
    "res3": ({"block": "res3", "preact": True}, {"first_layer_lr_exponent": 0.5}),
}


def _setup(form: str, n: int, depth: int, act: str = "tanh", **cfg_kw):  # noqa: ANN003, ANN202
    spec_kw, cfg_extra = FORMS[form]
    spec = NetSpec(width=n, depth=depth, activation=act, parametrization="depth_mup", dtype="float64", **spec_kw)
    return spec, TrainConfig(**{**cfg_extra, **cfg_kw})


def _forward(form: str, spec: NetSpec, vw: torch.Tensor, ww: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
    phi, _ = activation(spec.activation)
    a = spec.depth ** -0.5
    for l in range(spec.depth):
        if form == "res3":
            h = h + a * (vw[:, l] @ phi(ww[:, l] @ h))  # type: ignore[index]
        elif form == "pre":
            h = h + a * (vw[:, l] @ phi(h))
        else:
            h = phi(h + a * (vw[:, l] @ (h if form == "post" else phi(h))))
    return h


@pytest.mark.parametrize("form", sorted(FORMS))
def test_one_step_equals_autograd_sgd(form: str) -> None:
    s, n, depth = 4, 9, 3
    spec, cfg = _setup(form, n, depth, steps=1, lr=0.8, n_train=2, n_test=1, input_dim=3)
    res = train(spec, cfg, s, torch.Generator().manual_seed(3), [Run("r", depth, record_features=True)],
                path="dense")["r"]
    gen = torch.Generator().manual_seed(3)  # replay: frozen layers, then V, then W
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen)
    vw = (torch.randn(s, depth, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)).requires_grad_(True)
    ww = (torch.randn(s, depth, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)).requires_grad_(True) \
        if form == "res3" else None
    task = make_task(cfg)
    h0 = torch.einsum("snd,bd->snb", u_in, task.x_train)
    f = torch.einsum("sn,snb->sb", v, _forward(form, spec, vw, ww, h0)) / n
    loss = 0.5 * ((f - task.y_train) ** 2).mean(1)
    params = [vw] + ([ww] if ww is not None else [])
    grads = torch.autograd.grad(loss.sum(), params)
    v1 = vw.detach() - cfg.lr * grads[0]
    w1 = ww.detach() - cfg.lr * depth ** 0.5 * grads[1] if ww is not None else None
    f1 = torch.einsum("sn,snb->sb", v, _forward(form, spec, v1, w1, h0)) / n
    assert torch.allclose(res.f_train[:, 1], f1, atol=1e-12)
    assert torch.allclose(res.f_train[:, 0], f.detach(), atol=1e-12)
    h_l = _forward(form, spec, v1, w1, h0)
    ratio = (h_l.pow(2).sum(1) / h0.pow(2).sum(1)).mean(1)
    assert torch.allclose(res.norm_ratio[:, 1], ratio, atol=1e-10)
    if form == "res3":  # the first internal layer's weight update at the current input, relative to W(0) h
        u_upd = (w1 - ww.detach())[:, 0] @ h0
        expect = (u_upd.norm(dim=1) / (ww.detach()[:, 0] @ h0).norm(dim=1)).mean(1)
        assert torch.allclose(res.first_update[:, 1, 0], expect, atol=1e-10)
        assert torch.equal(res.first_change[:, 0], torch.zeros_like(res.first_change[:, 0]))


def test_pre_form_with_records_is_the_one_layer_trainer() -> None:
    spec, cfg = _setup("pre", 12, 4, steps=2, n_test=1)
    plain = train(spec, cfg, 8, torch.Generator().manual_seed(4), [Run("r", 4)], path="dense")["r"]
    rec = train(spec, cfg, 8, torch.Generator().manual_seed(4), [Run("r", 4, record_features=True)], path="dense")["r"]
    assert torch.allclose(plain.f_train, rec.f_train, atol=1e-12) and torch.allclose(plain.loss, rec.loss, atol=1e-12)
    assert rec.norm_ratio is not None and rec.first_update is None


@pytest.mark.parametrize("form", sorted(FORMS))
def test_dense_and_lazy_block_training_agree_in_distribution(form: str) -> None:
    s, n, depth = 1024, 20, 4
    spec, cfg = _setup(form, n, depth, act="relu" if form.startswith("post") else "tanh", steps=2, n_test=0)
    runs = [Run("r", depth, record_features=True)]
    dense = train(spec, cfg, s, torch.Generator().manual_seed(31), runs, path="dense")["r"]
    lazy = train(spec, cfg, s, torch.Generator().manual_seed(32), runs, path="lazy")["r"]

    def stats(r):  # noqa: ANN001, ANN202
        out = [r.f_train[:, t, 0] for t in (1, 2)] + [r.norm_ratio[:, 2].log()]
        if r.first_update is not None:
            out += [r.first_update[:, 2].mean(1), r.first_change[:, 2].mean(1)]
        return out

    for j, (x, z) in enumerate(zip(stats(dense), stats(lazy))):
        se = math.sqrt(float(x.var()) / s + float(z.var()) / s)
        assert abs(float(x.mean() - z.mean())) < 4.5 * se, f"{form} statistic {j}: {x.mean():.4g} vs {z.mean():.4g}"


def test_block_training_rejects_what_it_does_not_offer() -> None:
    spec, cfg = _setup("res3", 8, 2, steps=1)
    with pytest.raises(SpecError, match="true backprop"):
        train(spec, cfg, 2, torch.Generator(), [Run("r", 2, "paired")])
    with pytest.raises(SpecError, match="pre-activation"):
        train(spec.with_(preact=False), cfg, 2, torch.Generator())
    with pytest.raises(ValueError, match="post_branch_input"):
        TrainConfig(post_branch_input="x")  # type: ignore[arg-type]
