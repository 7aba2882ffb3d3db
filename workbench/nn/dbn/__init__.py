"""Deep belief nets: greedily stacked RBMs, top-down sampling, discriminative fine-tuning."""
