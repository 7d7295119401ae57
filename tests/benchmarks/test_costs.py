"""benchmarks/costs.py: the students' default parameter counts and FLOPs per instance (the paper's Table 8 figures)."""

import pytest
import torch

from lwkd_hf.text.models import STUDENTS, build_small_bert, build_student

VOCAB, PAD, LABELS = 4762, 4761, 10


def test_default_parameter_counts(costs):
    e, f, ks = 300, 256, (2, 3, 4)
    textcnn = VOCAB * e + sum(f * k * e + f for k in ks) + (f * len(ks) + 1) * LABELS
    assert textcnn == 2_128_258
    h = 256
    textrcnn = VOCAB * e + 2 * 4 * (h * e + h * h + 2 * h) + (2 * h + e + 1) * LABELS
    dpcnn = VOCAB * e + (250 * 3 * e + 250) + (250 * 250 * 3 + 250) + (250 + 1) * LABELS
    fasttext = VOCAB * e + 2 * 250_499 * e + (3 * e + 1) * h + (h + 1) * LABELS
    expected = {"textcnn": textcnn, "textrcnn": textrcnn, "dpcnn": dpcnn, "fasttext": fasttext}
    assert expected == {"textcnn": 2_128_258, "textrcnn": 2_579_514, "dpcnn": 1_844_110, "fasttext": 151_961_226}
    for name, n in expected.items():
        with torch.device("meta"):  # no memory or init time for FastText's 150M n-gram weights
            model = build_student(name, vocab_size=VOCAB, num_labels=LABELS, pad_token_id=PAD)
        assert costs.count_parameters(model) == n, name
    bert = build_small_bert(VOCAB, LABELS, pad_token_id=PAD)
    assert costs.count_parameters(bert) == 1_032_586
    assert bert.config.hidden_size == 128 and bert.config.num_hidden_layers == 2
    assert bert.config.num_attention_heads == 2 and bert.config.intermediate_size == 512
    assert bert.config.max_position_embeddings == 64 and bert.config.pad_token_id == PAD


def test_default_flops_per_instance(costs):
    with torch.device("meta"):
        models = {n: build_student(n, vocab_size=VOCAB, num_labels=LABELS, pad_token_id=PAD) for n in STUDENTS}
    # TextCNN: 2 x (sum_k (32-k+1) * k * 300 * 256 + 768 * 10)
    assert costs.flops_per_instance(models["textcnn"], 32) == 2 * ((31 * 2 + 30 * 3 + 29 * 4) * 300 * 256 + 768 * 10) == 41_180_160
    assert costs.flops_per_instance(models["textrcnn"], 32) == 2 * (2 * 32 * 4 * 256 * (300 + 256) + 812 * 10) == 72_892_272
    # DPCNN lengths: region 30, conv pair at 30, blocks at 15, 7, 3, 1
    pair = 2 * 3 * 250 * 250
    assert costs.flops_per_instance(models["dpcnn"], 32) == 2 * (30 * 3 * 300 * 250 + (30 + 15 + 7 + 3 + 1) * pair + 2500) == 55_505_000
    # FastText: the paper's 465.9K (two linear layers) plus the mean over 32 x 900 values
    assert costs.flops_per_instance(models["fasttext"], 32) == 2 * (900 * 256 + 256 * 10) + 32 * 900 == 494_720
    bert = build_small_bert(VOCAB, LABELS, pad_token_id=PAD)
    per_layer = 4 * 32 * 128 * 128 + 2 * 32 * 32 * 128 + 2 * 32 * 128 * 512
    assert costs.flops_per_instance(bert, 32) == 2 * (2 * per_layer + 128 * 128 + 128 * 10) == 26_249_728
    with pytest.raises(TypeError):
        costs.flops_per_instance(torch.nn.Linear(2, 2), 32)


def test_teacher_rows_are_lenet5_and_the_discriminator(costs):
    # LeNet5 (Table 9): conv 5x5 6 @28x28 (padded), conv 5x5 16 @10x10, conv 5x5 120 @1x1, fc 84, fc K
    macs = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25 + 120 * 16 * 25 + 120 * 84 + 84 * 10
    assert costs.teacher_rows(10) == [
        ("LeNet5 (K=10, per image)", 61_706, 2 * macs),
        ("discriminator (K=10)", 4_929, 2 * 4_929),
    ]
    assert 2 * macs == 833_040


def test_table_lists_every_model_with_the_papers_count(costs):
    lines = costs.table(VOCAB, LABELS, 32, embedding_dim=300).splitlines()
    assert lines[2] == "| textcnn | 2,128,258 | 41,180,160 | ~2.1M |"
    assert lines[6] == "| small BERT | 1,032,586 | 26,249,728 | – |"
    assert lines[7] == "| LeNet5 (K=10, per image) | 61,706 | 833,040 | ~62K |"
    assert len(lines) == 2 + len(STUDENTS) + 3
    rows = costs.text_model_rows(["textcnn"], VOCAB, LABELS, 32, embedding_dim=200)
    assert rows == [("textcnn", 1_421_658, 27_458_560)]
