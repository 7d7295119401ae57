"""``lwkd train``: fine-tune a text classifier with LW-KD or a baseline, on Chinese news presets or any labelled data
and model (``examples/run_text_classification.py`` runs the same).

    # a preset (THUCNews / ToutiaoNews) and a student trained from scratch
    lwkd train --dataset thucnews --data_dir DIR \
        --model textcnn --method lwkd --mnist_dir MNIST_DIR --output_dir OUT
    # your own files (CSV, TSV, JSON, JSONL) and any sequence classifier, as transformers' run_classification.py
    lwkd train --train_file train.csv --validation_file dev.csv --test_file test.csv \
        --text_column_name title --label_column_name topic --model_name_or_path bert-base-chinese \
        --method lwkd --mnist_dir MNIST_DIR --do_train --do_eval --do_predict --output_dir OUT

Runs unchanged under ``accelerate launch``. With ``--method lwkd`` it trains the LeNet5 teacher on
SynMNIST-K (or reuses ``--teacher_dir``), adds the shifted teacher logits to the training split, trains
with ``LWKDTrainer``, evaluates on dev every epoch, keeps the best model, and writes the transformers
way: ``all_results.json`` (``test_accuracy`` where the test split has labels), ``predict_results.txt``,
``trainer_state.json``, a model card (``README.md``) and ``run_config.json`` (every setting of the run).
Without any of ``--do_train/--do_eval/--do_predict`` it does all three (prediction where there is a test split).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from importlib.metadata import version
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    EarlyStoppingCallback,
    HfArgumentParser,
    set_seed,
)
from transformers.hf_argparser import string_to_bool

from ..allocator import keep_freed_memory
from ..atomic import atomic_write_json, atomic_write_text
from ..baselines import add_model_logits, add_virtual_teacher_logits, shuffle_teacher_logits
from ..columns import column_array
from ..config import LWKDConfig
from ..methods import METHODS, get_method, method_config
from ..metrics import compute_metrics
from ..provenance import code_state, file_hashes, machine, model_teacher_identity
from ..soft_targets import add_teacher_logits, shift_teacher_column, true_class_probability
from ..teacher import Teacher
from ..teacher_training import train_teacher
from ..text.data import load_hub_dataset, load_text_classification, prepare_classification, read_data_file
from ..text.models import build_small_bert, build_student
from ..text.tokenization import ChineseTextTokenizer, load_pretrained_embeddings, tokenize_dataset
from ..trainer import LWKDTrainer

logger = logging.getLogger(__name__)

@dataclass
class DataArguments:
    dataset: str | None = field(
        default=None,
        metadata={"help": "A ready preset read from --data_dir: thucnews or toutiao", "choices": ["thucnews", "toutiao"]},
    )
    data_dir: str | None = field(default=None, metadata={"help": "The preset's folder (see README: data)"})
    dataset_name: str | None = field(default=None, metadata={"help": "A dataset on the Hugging Face Hub"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration name"})
    train_file: str | None = field(default=None, metadata={"help": "Training data: CSV, TSV, JSON or JSONL"})
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation data (default: carved out of train, stratified, seeded)"}
    )
    test_file: str | None = field(default=None, metadata={"help": "Test data; its label column may be absent"})
    text_column_name: str | None = field(
        default=None, metadata={"help": "Text column(s), comma-separated, joined by --text_column_delimiter (default: text)"}
    )
    text_column_delimiter: str = field(default=" ", metadata={"help": "Joins several text columns"})
    label_column_name: str = field(default="label", metadata={"help": "Label column: strings or integers"})
    validation_split_ratio: float = field(
        default=0.05, metadata={"help": "Share of train held out as validation where there is no validation split"}
    )
    max_seq_length: int = field(default=32, metadata={"help": "Tokens per text after truncation/padding"})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use a seeded random N training rows"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use a seeded random N dev rows"})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use a seeded random N test rows"})
    split_seed: int = field(default=42, metadata={"help": "Seed of the stratified splits where splits are missing"})

    def __post_init__(self):
        sources = [name for name, given in (("--dataset", self.dataset), ("--dataset_name", self.dataset_name),
                                            ("--train_file", self.train_file)) if given]
        if len(sources) != 1:
            raise ValueError(f"give exactly one data source: --dataset (with --data_dir), --dataset_name or "
                             f"--train_file; got {sources or 'none'}")
        if self.dataset and not self.data_dir:
            raise ValueError(f"--dataset {self.dataset} needs --data_dir")
        if not self.train_file and (self.validation_file or self.test_file):
            raise ValueError("--validation_file/--test_file go with --train_file, not with --dataset or --dataset_name")
        if self.dataset and self.text_column_name:
            raise ValueError(f"--text_column_name does not apply to the --dataset {self.dataset} preset")
        if not 0.0 < self.validation_split_ratio < 1.0:
            raise ValueError(f"--validation_split_ratio must be in (0, 1), got {self.validation_split_ratio}")

    @property
    def text_columns(self) -> list[str]:
        return [c.strip() for c in (self.text_column_name or "text").split(",") if c.strip()]


@dataclass
class ModelArguments:
    model: str = field(
        default="textcnn",
        metadata={"help": "Student trained from scratch (ignored with --model_name_or_path)",
                  "choices": ["textcnn", "textrcnn", "dpcnn", "fasttext", "bert"]},
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Any sequence classifier: a local folder or Hub id with AutoModelForSequenceClassification "
                  "and AutoTokenizer (e.g. bert-base-chinese, or an earlier run's output_dir)"},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer to use instead of the model's"})
    ignore_mismatched_sizes: bool = field(
        default=False, metadata={"help": "Load a checkpoint whose classifier head has another number of labels"}
    )
    tokenizer_level: str = field(default="char", metadata={"help": "char or word (jieba)", "choices": ["char", "word"]})
    vocab_file: str | None = field(default=None, metadata={"help": "vocab.json to use instead of building one from train"})
    embeddings_file: str | None = field(
        default=None, metadata={"help": "Pretrained vectors (.npz, row i = id i of --vocab_file), e.g. embedding_Tencent.npz"}
    )
    vocab_min_freq: int = field(default=1, metadata={"help": "Minimum token frequency when building the vocabulary"})
    vocab_max_size: int | None = field(default=None, metadata={"help": "Maximum vocabulary size when building it"})
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "Override student config fields, e.g. 'ngram_buckets=1000,embedding_dim=64' (values parsed as JSON)"},
    )


@dataclass
class MethodArguments:
    method: str = field(
        default="lwkd",
        metadata={"help": "Training method (lwkd_hf.methods.METHODS)", "choices": list(METHODS)},
    )
    mnist_dir: str | None = field(default=None, metadata={"help": "MNIST IDX folder (or Hub id) for the LW-KD teacher"})
    teacher_dir: str | None = field(default=None, metadata={"help": "Reuse a teacher saved by `lwkd teacher`"})
    teacher_per_class: int | None = field(
        default=None,
        metadata={"help": "SynMNIST examples per class (default: Table 2's; for K=10 the MNIST training set itself)"},
    )
    teacher_epochs: int = field(default=10, metadata={"help": "Epochs of LeNet5 training"})
    teacher_cache_dir: str | None = field(
        default=None, metadata={"help": "Teacher cache folder (default: $LWKD_CACHE_DIR or ~/.cache/lwkd_hf)"}
    )
    no_teacher_cache: bool = field(default=False, metadata={"help": "Always train the teacher; skip the cache"})
    kd_teacher_dir: str | None = field(
        default=None,
        metadata={
            "help": "kd, kd-shuffle: a trained sequence classifier (with tokenizer) to distil from; lwkd-no-syn: a "
            "lightweight classifier trained on the target data, used in place of the SynMNIST teacher"
        },
    )
    lsr_epsilon: float = field(default=0.1, metadata={"help": "lsr: label smoothing epsilon"})
    tfkd_correct_prob: float | None = field(
        default=None, metadata={"help": "tfkd: virtual teacher's probability on the true class (0.9; legacy 0.99)"}
    )


@dataclass
class TrainScriptConfig(LWKDConfig):
    """LWKDConfig with this script's defaults (Table 11's Adam 1e-3, batch 128; evaluate every epoch).

    The learning rate decays linearly (Trainer's default): for TextCNN on THUCNews sup it gave 88.13 % test
    against 87.88 % with a constant rate (seed 42, 5 epochs, 2 CPU cores, 2026-11-26).
    """

    output_dir: str = field(default="outputs/run", metadata={"help": "Where the model, checkpoints and metrics go"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Student learning rate (AdamW)"})
    num_train_epochs: float = field(default=5.0, metadata={"help": "Training epochs"})
    per_device_train_batch_size: int = field(default=128, metadata={"help": "Batch size per device"})
    per_device_eval_batch_size: int = field(default=512, metadata={"help": "Eval batch size per device"})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate on dev"})
    save_strategy: str = field(default="epoch", metadata={"help": "When to checkpoint"})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints to keep (the best is kept too)"})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best dev model"})
    metric_for_best_model: str | None = field(default="accuracy", metadata={"help": "Metric that picks the best model"})
    logging_steps: float = field(default=50, metadata={"help": "Log the loss terms every N steps"})
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without improving metric_for_best_model (the paper "
                  "protocol: 10 evaluations of 100 steps, i.e. 1,000 batches)"},
    )
    keep_freed_memory: bool = field(
        default=False,
        metadata={"help": "Call lwkd_hf.allocator.keep_freed_memory(): glibc's mallopt sets the mmap threshold to "
                  "32 MiB, the trim threshold to 2**31 - 1 and the top pad to 64 MiB, so freed memory is reused "
                  "instead of faulted in again from the kernel (CPU training: a TextCNN run on 2 cores ~10 %% "
                  "faster, the same results). Process-wide and irreversible, inherited by forked loader workers; "
                  "the process stays larger. Without code: start the script with GLIBC_TUNABLES="
                  "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647:"
                  "glibc.malloc.top_pad=67108864 (older glibc: MALLOC_MMAP_THRESHOLD_=33554432 "
                  "MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_TOP_PAD_=67108864)"},
    )


def select(split: datasets.Dataset, limit: int | None, seed: int) -> datasets.Dataset:
    """A seeded random subset of ``limit`` rows (the files may be sorted by label), or the whole split."""
    if limit is None or limit >= len(split):
        return split
    return split.shuffle(seed=seed).select(range(limit))


def parse_overrides(text: str | None) -> dict:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` (each value parsed as JSON where it can be)."""
    overrides = {}
    for item in filter(None, (text or "").split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config_overrides expects key=value pairs separated by commas, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


def build_tokenizer(model_args: ModelArguments, data_args: DataArguments, train_texts):
    """The checkpoint's (or ``--tokenizer_name``'s) tokenizer, else the Chinese char/word tokenizer."""
    if model_args.tokenizer_name or model_args.model_name_or_path:
        return AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_args.model_name_or_path)
    if model_args.vocab_file:
        return ChineseTextTokenizer.from_vocab_file(
            model_args.vocab_file, level=model_args.tokenizer_level, max_length=data_args.max_seq_length
        )
    return ChineseTextTokenizer.from_texts(
        train_texts,
        level=model_args.tokenizer_level,
        min_freq=model_args.vocab_min_freq,
        max_size=model_args.vocab_max_size,
        max_length=data_args.max_seq_length,
    )


def build_model(model_args: ModelArguments, tokenizer, labels: list[str]):
    """``--model_name_or_path`` through the Auto classes, else a student from scratch; labels named either way."""
    id2label = dict(enumerate(labels))
    label2id = {name: i for i, name in id2label.items()}
    if model_args.model_name_or_path:
        return AutoModelForSequenceClassification.from_pretrained(
            model_args.model_name_or_path, num_labels=len(labels), id2label=id2label, label2id=label2id,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
        )
    if model_args.model == "bert":
        return build_small_bert(
            tokenizer.vocab_size, len(labels), pad_token_id=tokenizer.pad_token_id, id2label=id2label, label2id=label2id
        )
    overrides = parse_overrides(model_args.config_overrides)
    embeddings = None
    if model_args.embeddings_file:
        if not model_args.vocab_file:
            raise ValueError("--embeddings_file needs --vocab_file (its rows are indexed by that vocabulary)")
        embeddings = load_pretrained_embeddings(tokenizer.get_vocab(), model_args.vocab_file, model_args.embeddings_file)
    return build_student(
        model_args.model,
        vocab_size=tokenizer.vocab_size,
        num_labels=len(labels),
        pad_token_id=tokenizer.pad_token_id,
        embeddings=embeddings,
        id2label=id2label,
        label2id=label2id,
        **overrides,
    )


def load_raw_data(data_args: DataArguments) -> datasets.DatasetDict:
    """``train``/``validation``[/``test``] with ``text`` and a ``ClassLabel`` ``label`` from the chosen source."""
    if data_args.dataset:
        return load_text_classification(data_args.dataset, data_args.data_dir, split_seed=data_args.split_seed)
    if data_args.dataset_name:
        raw = load_hub_dataset(data_args.dataset_name, data_args.dataset_config_name)
        sources = {split: f"{data_args.dataset_name} [{split}]" for split in raw}
    else:
        files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
        raw = {split: read_data_file(path, split) for split, path in files.items() if path}
        sources = {split: path for split, path in files.items() if path}
    return prepare_classification(
        dict(raw), text_columns=data_args.text_columns, label_column=data_args.label_column_name, sources=sources,
        text_delimiter=data_args.text_column_delimiter, validation_fraction=data_args.validation_split_ratio,
        split_seed=data_args.split_seed,
    )


def write_predictions(path: Path, rows: list[int], predictions, labels: list[str]) -> None:
    """``predict_results.txt`` as run_classification.py writes it: ``index<TAB>prediction`` (label names), the
    index being the row of the test split (they differ where --max_predict_samples picked some rows)."""
    lines = ["index\tprediction"] + [f"{row}\t{labels[p]}" for row, p in zip(rows, predictions)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_model_card(trainer, method_args, training_args, teacher, data_args, model_args) -> None:
    """Trainer's model card plus what LW-KD adds: the method, alpha, beta, tau, KL scaling and the teacher."""
    dataset = data_args.dataset or data_args.dataset_name or Path(data_args.train_file).name
    trainer.create_model_card(
        model_name=Path(training_args.output_dir).name, finetuned_from=model_args.model_name_or_path,
        tags=["lwkd-hf", "knowledge-distillation", method_args.method], dataset=dataset,
    )
    card = Path(training_args.output_dir) / "README.md"
    if not trainer.is_world_process_zero() or not card.is_file():
        return
    method = get_method(method_args.method)
    lines = ["", "## LW-KD", "", f"- method: `{method.name}` ({method.description})",
             f"- alpha: {training_args.alpha}", f"- beta: {training_args.beta}",
             f"- temperature (tau): {training_args.temperature}", f"- kl_scaling: `{training_args.kl_scaling}`",
             f"- label_smoothing_factor: {training_args.label_smoothing_factor}"]
    if teacher is not None:
        config = teacher.config
        accuracy = f"{config.test_accuracy:.4f}" if config.test_accuracy is not None else "not measured"
        lines += [f"- lightweight teacher: LeNet5 on SynMNIST-{config.num_classes} ({sum(config.per_class):,} images, "
                  f"{config.epochs} epochs), held-out accuracy {accuracy}, MNIST sha256 `{config.mnist_sha256}`"]
    lines += ["- every setting of the run: `run_config.json`", ""]
    atomic_write_text(card, card.read_text(encoding="utf-8") + "\n".join(lines))


def lightweight_teacher(method_args: MethodArguments, training_args: TrainScriptConfig, k: int):
    """Load ``--teacher_dir``, or train LeNet5 on SynMNIST-K (reused from the teacher cache when it has this
    recipe) and keep a copy in OUT/teacher."""
    if method_args.teacher_dir:
        return Teacher.load(method_args.teacher_dir)
    if not method_args.mnist_dir:
        raise ValueError(f"--method {method_args.method} needs --mnist_dir (or a saved --teacher_dir)")
    cache = None if method_args.no_teacher_cache else (method_args.teacher_cache_dir or True)
    return train_teacher(
        k, method_args.teacher_per_class, mnist=method_args.mnist_dir, epochs=method_args.teacher_epochs,
        seed=training_args.seed, device=training_args.device, cache_dir=cache,
        output_dir=Path(training_args.output_dir) / "teacher" if training_args.should_save else None,
    )


def model_teacher_length(teacher_dir: str, default: int) -> int:
    """The sequence length a classifier trained by this script used (its run_config.json), else ``default``."""
    record = Path(teacher_dir) / RUN_CONFIG_NAME
    if record.is_file():
        return int(json.loads(record.read_text())["data"]["max_seq_length"])
    logger.warning(f"{record} not found: the KD teacher's inputs are padded to {default} tokens, the student's length")
    return default


def add_soft_targets(method_args, data_args, training_args, train: datasets.Dataset, k: int):
    """Fill the teacher column of the training split as ``--method`` requires; returns it and the LW-KD teacher."""
    method, column = get_method(method_args.method), training_args.teacher_logits_column
    if method.soft_targets == "none":
        return train, None
    if method.soft_targets.startswith("virtual"):
        legacy = method.soft_targets == "virtual-legacy"
        return add_virtual_teacher_logits(
            train, k, legacy=legacy, correct_prob=method_args.tfkd_correct_prob, column=column
        ), None
    if method.needs_model_teacher:
        if not method_args.kd_teacher_dir:
            raise ValueError(f"--method {method.name} needs --kd_teacher_dir (a trained classifier, e.g. a run's output_dir)")
        teacher_model = AutoModelForSequenceClassification.from_pretrained(method_args.kd_teacher_dir)
        teacher_model.to(training_args.device)
        teacher_tokenizer = AutoTokenizer.from_pretrained(method_args.kd_teacher_dir)
        length = model_teacher_length(method_args.kd_teacher_dir, data_args.max_seq_length)
        train = add_model_logits(train, teacher_model, teacher_tokenizer, column=column, max_length=length)
        if method.soft_targets == "model-shuffled":
            train = shuffle_teacher_logits(train, column=column, seed=training_args.seed)
        elif method.soft_targets == "model-shifted":  # w/o SYN: LW-KD's shift, but the teacher learnt the target data
            train = shift_teacher_column(train, column)
        return train, None
    teacher = lightweight_teacher(method_args, training_args, k)
    return add_teacher_logits(train, teacher, mnist=method_args.mnist_dir, column=column, seed=training_args.seed), teacher


RUN_CONFIG_NAME = "run_config.json"


def soft_target_summary(train: datasets.Dataset, training_args: TrainScriptConfig, k: int) -> dict:
    """How much of the training target sits on the true class (Eq. 2 at the run's tau, or 1 - eps + eps/K)."""
    column = training_args.teacher_logits_column
    if column in train.column_names:
        prob = true_class_probability(column_array(train, column), column_array(train, "label"), training_args.temperature)
        return {"true_class_probability": prob, "temperature": training_args.temperature}
    eps = training_args.label_smoothing_factor
    return {"true_class_probability": 1.0 - eps + eps / k, "temperature": None}


def parse_arguments(argv: list[str] | None) -> tuple:
    """``lwkd train``'s arguments as its four dataclasses, the method's settings applied to the training ones."""
    parser = HfArgumentParser((DataArguments, ModelArguments, MethodArguments, TrainScriptConfig))
    data_args, model_args, method_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    training_args = method_config(training_args, method_args.method, label_smoothing=method_args.lsr_epsilon)
    return data_args, model_args, method_args, training_args


def run_arguments(data_args, model_args, method_args, training_args) -> dict:
    """Every argument a run runs with, defaults included, as ``run_config.json`` records them."""
    return {"data": dataclasses.asdict(data_args), "model": dataclasses.asdict(model_args),
            "method": dataclasses.asdict(method_args), "training": json.loads(training_args.to_json_string())}


def write_run_config(path: Path, data_args, model_args, method_args, training_args, teacher, soft_targets) -> None:
    """Everything the run ran with: every argument, the method's settings, the sha256 of its data, vocabulary,
    embeddings and MNIST files, the teachers' identities, the machine, the code (a diff beside it where the checkout
    has changes) and versions."""
    model_teacher = get_method(method_args.method).needs_model_teacher and method_args.kd_teacher_dir
    record = {
        **run_arguments(data_args, model_args, method_args, training_args),
        "method_settings": dataclasses.asdict(get_method(method_args.method)),
        "lightweight_teacher": None if teacher is None else teacher.config.to_dict()
        | {"weights_sha256": teacher.weights_sha256()},
        "model_teacher": model_teacher_identity(method_args.kd_teacher_dir) if model_teacher else None,
        "soft_targets": soft_targets,
        "file_sha256": file_hashes([data_args.data_dir, data_args.train_file, data_args.validation_file,
                                    data_args.test_file, model_args.vocab_file, model_args.embeddings_file,
                                    teacher and (method_args.mnist_dir or teacher.config.mnist_source)]),
        "machine": machine(),
        **code_state(path),
        "versions": {name: version(name) for name in ("torch", "transformers", "datasets", "accelerate")}
        | {"python": sys.version.split()[0]},
    }
    atomic_write_json(path / RUN_CONFIG_NAME, record)


def flag_value(argv: list[str], flag: str) -> bool:
    """Whether a boolean ``flag`` was given as true (``--flag``, ``--flag true``, ``--flag=yes``); absent: False."""
    value = False
    for i, arg in enumerate(argv):
        if arg == flag:
            following = argv[i + 1] if i + 1 < len(argv) else ""
            value = following.startswith("--") or not following or string_to_bool(following)
        elif arg.startswith(flag + "="):
            value = string_to_bool(arg.split("=", 1)[1])
    return value


def main(argv: list[str] | None = None) -> dict:
    data_args, model_args, method_args, training_args = parse_arguments(argv)
    # TrainingArguments turns do_eval on by itself when eval_strategy is set, so "asked for" is read off the flags
    asked_eval = flag_value(sys.argv[1:] if argv is None else argv, "--do_eval")
    explicit = training_args.do_train or training_args.do_predict or asked_eval
    do_train, do_eval, do_predict = (
        (training_args.do_train, asked_eval, training_args.do_predict) if explicit else (True, True, True)
    )

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO, stream=sys.stdout)
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    model_name = model_args.model_name_or_path or model_args.model
    if training_args.keep_freed_memory and not keep_freed_memory():
        logger.info("--keep_freed_memory: not applied (the C library is not glibc, or it refused a setting)")
    logger.info(f"method={method_args.method} model={model_name} data={data_args.dataset or data_args.dataset_name or data_args.train_file}")
    set_seed(training_args.seed)

    if not do_train and not model_args.model_name_or_path:
        raise ValueError("--do_eval/--do_predict without --do_train needs --model_name_or_path (a trained model, e.g. "
                         "an earlier run's output_dir); otherwise a randomly initialised student would be scored")
    raw = load_raw_data(data_args)
    if do_predict and "test" not in raw:
        if explicit:
            raise ValueError("--do_predict needs a test split: pass --test_file (or a dataset with a 'test' split)")
        logger.info("no test split: prediction skipped")
        do_predict = False
    if "test" in raw:  # predict_results.txt names rows of the test split, also when only some are used
        raw["test"] = raw["test"].add_column("row", list(range(len(raw["test"]))))
    for split, limit in (("train", data_args.max_train_samples), ("validation", data_args.max_eval_samples),
                         ("test", data_args.max_predict_samples)):
        if split in raw:
            raw[split] = select(raw[split], limit, data_args.split_seed)
    test_rows: list[int] = []
    if "test" in raw:
        test_rows = raw["test"]["row"]
        raw["test"] = raw["test"].remove_columns("row")
    labels = raw["train"].features["label"].names
    k = len(labels)

    teacher = None
    if do_train:
        with training_args.main_process_first(desc="soft targets"):
            raw["train"], teacher = add_soft_targets(method_args, data_args, training_args, raw["train"], k)
    if training_args.should_save:
        Path(training_args.output_dir).mkdir(parents=True, exist_ok=True)
        summary = soft_target_summary(raw["train"], training_args, k) if do_train else None
        write_run_config(Path(training_args.output_dir), data_args, model_args, method_args, training_args, teacher,
                         summary)
    tokenizer = build_tokenizer(model_args, data_args, raw["train"]["text"])
    with training_args.main_process_first(desc="tokenization"):
        encoded = tokenize_dataset(raw, tokenizer, max_length=data_args.max_seq_length)
    model = build_model(model_args, tokenizer, labels)

    trainer = LWKDTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded["train"] if do_train else None,
        eval_dataset=encoded["validation"],
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )
    metrics = {}
    if do_train:
        if training_args.early_stopping_patience:
            trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        # it reads eval_<metric> after each evaluation; the test evaluation below has none and would warn
        trainer.remove_callback(EarlyStoppingCallback)
        trainer.save_model()
        metrics = dict(train_result.metrics, train_samples=len(encoded["train"]))
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()

    if do_eval:
        metrics = trainer.evaluate(metric_key_prefix="eval")
        metrics["eval_samples"] = len(encoded["validation"])
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    if do_predict:
        test = encoded["test"]
        if "label" in test.column_names:  # a labelled test split is also scored
            metrics = trainer.evaluate(test, metric_key_prefix="test")
            metrics["test_samples"] = len(test)
            trainer.log_metrics("test", metrics)
            trainer.save_metrics("test", metrics)
            test = test.remove_columns("label")
        predictions = trainer.predict(test, metric_key_prefix="predict").predictions
        if trainer.is_world_process_zero():
            write_predictions(Path(training_args.output_dir) / "predict_results.txt", test_rows,
                              predictions.argmax(-1), labels)

    if do_train and training_args.should_save:
        write_model_card(trainer, method_args, training_args, teacher, data_args, model_args)
    if trainer.is_world_process_zero() and "test_accuracy" in metrics:
        print(f"test_accuracy = {metrics['test_accuracy']:.4f}  ({method_args.method}, {model_name}; results in "
              f"{os.path.join(training_args.output_dir, 'all_results.json')})")
    return metrics


if __name__ == "__main__":
    main()
