"""The workflow machinery: planning the products, running a job, the warm worker, the code hash, the config."""
