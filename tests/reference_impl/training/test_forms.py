"""The reference's network in training (reference_impl.training.forms): true backprop, the paired
decoupled backward, depth coupling, dense = lazy; every block form's step equals autograd SGD."""
from __future__ import annotations

import math

import pytest
import torch

from reference_impl.activations import activation
from reference_impl.protocol import NetSpec, SpecError
from reference_impl.training import Run, TrainConfig, draw_frozen_layers, make_task, train


def _spec(n: int = 16, depth: int = 4, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


def one_step_reference_grad(spec: NetSpec, cfg: TrainConfig, weights: torch.Tensor, u_in: torch.Tensor,
                            v: torch.Tensor) -> torch.Tensor:
    """dLoss/dW_l (S, L, n, n) at given dense weights by autograd: the check that "reuse" is true backprop."""
    phi, _ = activation(spec.activation)
    task = make_task(cfg)
    w = weights.clone().requires_grad_(True)
    depth, n = weights.shape[1], weights.shape[2]
    a = spec.scale * depth ** (-spec.beta)
    h = torch.einsum("snd,bd->snb", u_in, task.x_train.to(u_in.device))
    for l in range(depth):
        h = h + a * (w[:, l] @ phi(h))
    f = torch.einsum("sn,snb->sb", v, h) / n
    loss = 0.5 * ((f - task.y_train) ** 2).mean(1) if cfg.loss == "mse" else -f.mean(1)
    (grad,) = torch.autograd.grad(loss.sum(), w)
    return grad


def test_reuse_backward_is_true_backprop() -> None:
    """One SGD step of ``train`` (dense path) equals one autograd SGD step from the same weights."""
    s, n, depth = 6, 10, 3
    cfg = TrainConfig(steps=1, lr=0.7, n_train=2, n_test=1, input_dim=3)
    spec = _spec(n, depth)
    res = train(spec, cfg, s, torch.Generator().manual_seed(11), path="dense")["true"]
    gen = torch.Generator().manual_seed(11)  # replay the draws: frozen layers first, then the hidden weights
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen)
    w = torch.randn(s, depth, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    w1 = w - cfg.lr * one_step_reference_grad(spec, cfg, w, u_in, v)
    task = make_task(cfg)
    h = torch.einsum("snd,bd->snb", u_in, task.x_test)
    for l in range(depth):
        h = h + depth ** -0.5 * (w1[:, l] @ torch.tanh(h))
    f1 = torch.einsum("sn,snb->sb", v, h) / n
    assert torch.allclose(res.f_test[:, 1], f1, atol=1e-12)


def test_paired_decoupled_run_shares_forward_and_differs_little_at_init() -> None:
    spec = _spec(64, 4)
    cfg = TrainConfig(steps=2, loss="linear")
    out = train(spec, cfg, 256, torch.Generator().manual_seed(2),
                [Run("true", 4), Run("dec", 4, "paired"), Run("ind", 4, "independent")], path="dense")
    assert torch.equal(out["true"].f_test[:, 0], out["dec"].f_test[:, 0])  # same W(0): same init outputs
    step = (out["true"].f_test[:, 1] - out["true"].f_test[:, 0]).abs().mean()
    paired = (out["true"].f_test[:, 1] - out["dec"].f_test[:, 1]).abs().mean()
    indep = (out["true"].f_test[:, 1] - out["ind"].f_test[:, 1]).abs().mean()
    assert paired < 0.2 * indep  # pairing: only the rank-one part along the initial features differs
    assert paired < 0.2 * step


def test_depth_coupled_run_equals_network_with_merged_weights() -> None:
    """A depth-L run driven by fine_depth = 2L matrices uses W_l = (W_2l-1 + W_2l)/sqrt(2)."""
    s, n = 5, 8
    cfg = TrainConfig(steps=0, n_test=2)
    spec = _spec(n, 2)
    res = train(spec, cfg, s, torch.Generator().manual_seed(7), [Run("coarse", 2)], path="dense", fine_depth=4)["coarse"]
    gen = torch.Generator().manual_seed(7)
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen)
    w = torch.randn(s, 4, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    merged = (w[:, 0::2] + w[:, 1::2]) / math.sqrt(2)
    h = torch.einsum("snd,bd->snb", u_in, make_task(cfg).x_test)
    for l in range(2):
        h = h + 2 ** -0.5 * (merged[:, l] @ torch.tanh(h))
    assert torch.allclose(res.f_test[:, 0], torch.einsum("sn,snb->sb", v, h) / n, atol=1e-12)


@pytest.mark.parametrize("loss", ["linear", "mse"])
def test_dense_and_lazy_paths_agree_in_distribution(loss: str) -> None:
    """Means of f_t and of the paired true - decoupled differences agree within a few standard errors."""
    s, n, depth = 2048, 24, 4
    spec = _spec(n, depth)
    cfg = TrainConfig(steps=3, loss=loss)
    runs = [Run("true", depth, record_coupling=True), Run("dec", depth, "paired")]
    dense = train(spec, cfg, s, torch.Generator().manual_seed(21), runs, path="dense")
    lazy = train(spec, cfg, s, torch.Generator().manual_seed(22), runs, path="lazy")

    def stats(out):  # noqa: ANN001, ANN202
        ft = out["true"].f_test[:, :, 0]
        diff = ft - out["dec"].f_test[:, :, 0]
        return [ft[:, t] for t in range(1, 4)] + [diff[:, t] for t in range(1, 4)] + [
            out["true"].coupling[:, 2].mean(1)]

    for j, (a, b) in enumerate(zip(stats(dense), stats(lazy))):
        se = math.sqrt(float(a.var()) / s + float(b.var()) / s)
        assert abs(float(a.mean() - b.mean())) < 4.5 * se, f"statistic {j}: dense {a.mean():.4g} lazy {b.mean():.4g} se {se:.2g}"


def test_no_learning_rate_means_no_change_and_bad_settings_raise() -> None:
    spec = _spec(8, 2)
    out = train(spec, TrainConfig(steps=2, lr=0.0), 4, torch.Generator().manual_seed(0), path="lazy")["true"]
    assert torch.allclose(out.f_test[:, 0], out.f_test[:, 2])
    with pytest.raises(SpecError, match="depth_mup"):
        train(spec.with_(parametrization="standard"), TrainConfig(), 2, torch.Generator())
    with pytest.raises(SpecError, match="divide"):
        train(spec, TrainConfig(), 2, torch.Generator(), [Run("a", 3)], fine_depth=4)
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="hinge")  # type: ignore[arg-type]


def _manual_step(spec: NetSpec, cfg: TrainConfig, s: int, seed: int, transpose: bool, lr: float) -> torch.Tensor:
    """Test outputs after one SGD step computed by hand from replayed draws; the backward pass uses
    W^T (true backprop) or W (the transpose bug)."""
    n, depth = spec.width, spec.depth
    gen = torch.Generator().manual_seed(seed)
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen)
    w = torch.randn(s, depth, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    a, task = depth ** -0.5, make_task(cfg)
    hs = [torch.einsum("snd,bd->snb", u_in, task.x_train)]
    for l in range(depth):
        hs.append(hs[-1] + a * (w[:, l] @ torch.tanh(hs[-1])))
    f = torch.einsum("sn,snb->sb", v, hs[-1]) / n
    g = v[:, :, None] * ((f - task.y_train) / cfg.n_train)[:, None, :] / n  # dLoss/dh_L
    grad = torch.zeros_like(w)
    for l in reversed(range(depth)):
        grad[:, l] = a * g @ torch.tanh(hs[l]).transpose(1, 2)
        m = w[:, l].transpose(1, 2) if transpose else w[:, l]
        g = g + a * (1 - torch.tanh(hs[l]) ** 2) * (m @ g)
    w1 = w - lr * grad
    h = torch.einsum("snd,bd->snb", u_in, task.x_test)
    for l in range(depth):
        h = h + a * (w1[:, l] @ torch.tanh(h))
    return torch.einsum("sn,snb->sb", v, h) / n


@pytest.mark.parametrize("backward, transpose", [("reuse", True), ("untransposed", False)])
def test_untransposed_backward_is_the_transpose_bug_exactly(backward: str, transpose: bool) -> None:
    s, n, depth = 4, 7, 3
    cfg = TrainConfig(steps=1, lr=0.9, n_train=2, n_test=2, input_dim=3)
    out = train(_spec(n, depth), cfg, s, torch.Generator().manual_seed(5), [Run("r", depth, backward)], path="dense")
    assert torch.allclose(out["r"].f_test[:, 1], _manual_step(_spec(n, depth), cfg, s, 5, transpose, 0.9), atol=1e-12)


def test_lr_depth_exponent_divides_the_rate_by_a_power_of_depth() -> None:
    spec, gen = _spec(12, 4), lambda: torch.Generator().manual_seed(8)
    with_exponent = train(spec, TrainConfig(steps=2, lr=1.0, lr_depth_exponent=0.5), 16, gen(), path="dense")
    explicit = train(spec, TrainConfig(steps=2, lr=4 ** -0.5), 16, gen(), path="dense")
    assert torch.equal(with_exponent["true"].f_test, explicit["true"].f_test)
    with pytest.raises(ValueError, match="lr_depth_exponent"):
        TrainConfig(lr_depth_exponent=float("nan"))


# ------------------------------------------------------------------------------------------------
# block forms: post-activation and res3
# ------------------------------------------------------------------------------------------------
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
    res = train(spec, cfg, s, torch.Generator().manual_seed(3), [Run("r", depth, record_norms=True)],
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
    rec = train(spec, cfg, 8, torch.Generator().manual_seed(4), [Run("r", 4, record_norms=True)], path="dense")["r"]
    assert torch.allclose(plain.f_train, rec.f_train, atol=1e-12) and torch.allclose(plain.loss, rec.loss, atol=1e-12)
    assert rec.norm_ratio is not None and rec.first_update is None


@pytest.mark.parametrize("form", sorted(FORMS))
def test_dense_and_lazy_block_training_agree_in_distribution(form: str) -> None:
    s, n, depth = 1024, 20, 4
    spec, cfg = _setup(form, n, depth, act="relu" if form.startswith("post") else "tanh", steps=2, n_test=0)
    runs = [Run("r", depth, record_norms=True)]
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
