"""The ``lwkd`` command's scripts: ``train`` (one run, transformers' run_classification.py's arguments) and
``compare`` (methods side by side over seeds, with intervals and a verdict)."""
