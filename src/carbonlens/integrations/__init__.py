"""Integrations with training frameworks, experiment trackers and metrics systems.

Each module imports its framework only when used, so installing carbonlens never
pulls one in and `import carbonlens` imports none of them (docs/integrations.md):

* `lightning`: a PyTorch Lightning callback (needs `lightning`);
* `huggingface`: a Transformers `TrainerCallback` (needs `transformers`);
* `keras`: a Keras 3 callback (needs `keras`);
* `mlflow`: a report's figures and HTML report to MLflow (needs `mlflow`);
* `prometheus`: live power, energy and emissions metrics (needs `prometheus-client`);
* `distributed`: torch.distributed, SLURM and MPI jobs as one total (needs nothing).
"""
