"""The text application of LW-KD: Chinese-news readers, a char/word tokenizer and the paper's text students.

Nothing in the LW-KD core (teacher, soft targets, losses, trainer) depends on this package. Importing it
registers the students' configs and models with ``AutoConfig`` / ``AutoModelForSequenceClassification`` and
``ChineseTextTokenizer`` with ``AutoTokenizer``, so a saved student reloads with the Auto classes;
``import lwkd_hf`` imports it.
"""

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from .data import load_text_classification, prepare_classification
from .models import STUDENTS, build_small_bert, build_student
from .tokenization import ChineseTextTokenizer, load_pretrained_embeddings, tokenize_dataset

for _config_class, _model_class in STUDENTS.values():
    AutoConfig.register(_config_class.model_type, _config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(_config_class, _model_class, exist_ok=True)
    AutoTokenizer.register(_config_class, tokenizer_class=ChineseTextTokenizer, exist_ok=True)

__all__ = [
    "ChineseTextTokenizer",
    "build_small_bert",
    "build_student",
    "load_pretrained_embeddings",
    "load_text_classification",
    "prepare_classification",
    "tokenize_dataset",
]
