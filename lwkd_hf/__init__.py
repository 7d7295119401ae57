"""lwkd-hf: LW-KD knowledge distillation for HuggingFace Transformers."""
