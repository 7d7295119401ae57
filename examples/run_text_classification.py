#!/usr/bin/env python
"""Fine-tune a text classifier with LW-KD or a baseline: the same as ``lwkd train`` (:mod:`lwkd_hf.scripts.train`).

    python examples/run_text_classification.py --dataset thucnews --data_dir DIR \
        --model textcnn --method lwkd --mnist_dir MNIST_DIR --output_dir OUT

Runs unchanged under ``accelerate launch``; ``--help`` lists every argument.
"""

from lwkd_hf.scripts.train import main

if __name__ == "__main__":
    main()
