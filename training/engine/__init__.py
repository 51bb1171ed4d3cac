"""Training engine: methods, data wiring, the training loop, checkpoints, DDP, logs, evaluation.

* :mod:`.methods` - ``build_method(cfg) -> Method`` (sl, sl-puzzled, hmtl, ssl-pretrain);
* :mod:`.data_setup` - ``build_run_data(cfg, method)``: splits and per-sample seeded transforms;
* :mod:`.trainer` - ``Trainer(cfg, resume=False).fit()`` / ``train(cfg, resume)``;
* :mod:`.checkpoint` - atomic writes, ``save_checkpoint`` / ``load_checkpoint``, RNG states;
* :mod:`.sampler` - ``EpochSampler``: per-epoch order from ``seed + epoch``, sharded, resumable;
* :mod:`.distributed` - torchrun/DDP process group and collectives;
* :mod:`.run_log` - CSV, TensorBoard and learning-curve PNG;
* :mod:`.metrics` / :mod:`.evaluate` - MAE with missing labels masked; checkpoint/ONNX evaluation.
"""
