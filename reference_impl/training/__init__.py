"""The training engine: one SGD loop over residual blocks for every training claim and plug-in route.

    train(weights source: dense | lazy exact-Gaussian | a plug-in's drawn weights,   (sources)
          block form: NetSpec's | a plug-in's block through autograd | its modules,   (forms, plugin)
          update rule: depth-muP SGD with rate factors | a plug-in's optimizer,       (updates)
          backward: true | paired decoupled | independent | untransposed, records)   (forms, records)

engine.py holds the loop and the chunking; routes.py the configurations callers use: ``train`` (the
reference's network), ``train_network`` (the training contract), ``train_optimizer`` and ``train_with``.
"""
from .config import BACKWARDS, LOSSES, LR_GROUPS, Run, RunResult, Task, TrainConfig, loss_and_signal, make_task
from .engine import LAZY_CHUNK_MAX, auto_chunk, dense_chunk
from .records import relative_updates
from .routes import (CONTRACT_BACKWARDS, CONTRACT_NETWORK, OWN_TRAINER, REFERENCE_NETWORK, suite_constructions, train,
                     train_network, train_optimizer, train_with, trains_through_contract)
from .sources import DRAW_GROUP, draw_frozen_layers, group_generator
from .updates import DepthMupSGD, optimizer_name

__all__ = [
    "BACKWARDS", "CONTRACT_BACKWARDS", "CONTRACT_NETWORK", "DRAW_GROUP", "LAZY_CHUNK_MAX", "LOSSES", "LR_GROUPS",
    "OWN_TRAINER", "REFERENCE_NETWORK", "DepthMupSGD", "Run", "RunResult", "Task", "TrainConfig", "auto_chunk",
    "dense_chunk", "draw_frozen_layers", "group_generator", "loss_and_signal", "make_task", "optimizer_name",
    "relative_updates", "suite_constructions", "train", "train_network", "train_optimizer", "train_with",
    "trains_through_contract",
]
