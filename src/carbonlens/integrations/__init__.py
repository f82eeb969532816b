"""Integrations with training frameworks, experiment trackers and metrics systems.

Each module imports its framework only when used, so installing carbonlens never
pulls one in and `import carbonlens` imports none of them (docs/integrations.md):

* `lightning`: a PyTorch Lightning callback (needs `lightning`);
* `huggingface`: a Transformers `TrainerCallback` (needs `transformers`);
* `keras`: a Keras 3 callback (needs `keras`);
* `mlflow`: a report's figures and HTML report to MLflow (needs `mlflow`);
* `wandb`: a report's figures and HTML report to Weights & Biases (needs `wandb`);
* `prometheus`: live power, energy and emissions metrics (needs `prometheus-client`);
* `otel`: the same live metrics as OpenTelemetry instruments (needs `opentelemetry-api`);
* `ray_tune`: a Ray Tune callback, each trial's share and the sweep's total (needs `ray[tune]`);
* `distributed`: torch.distributed, SLURM and MPI jobs as one total (needs nothing).

Transformers and Keras call no callback when training raises: wrap training in
`callback.guard()` to store such a run as failed.
"""
