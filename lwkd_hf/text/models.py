"""Text students of the LW-KD paper (Table 4) as ``transformers`` models, plus a small BERT.

* TextCNN (Kim, 2014): 300-d embeddings, filters of width 2, 3, 4 with 256 maps each, ReLU,
  max-pool over time, linear classifier.
* TextRCNN (Lai et al., 2015): one-layer BiLSTM (256 per direction) whose states are
  concatenated with the embeddings, ReLU, max-pool over time, linear classifier (as in the
  reference implementation: no extra projection layer, which would exceed the paper's ~2.6M).
* DPCNN (Johnson & Zhang, 2017): region embedding (width-3 convolution, 250 maps), two
  pre-activation convolutions, then "pad, max-pool /2, two convolutions + shortcut" blocks
  until the sequence length is 1, linear classifier. As in the reference implementation that the
  paper's ~1.8M count implies, one 250x250 width-3 convolution is shared by all conv layers.
* FastText (Joulin et al., 2017): mean of [token; hashed bigram; hashed trigram] embeddings over the
  non-padding positions, 256-unit ReLU layer, linear classifier. The n-gram bucket ids are
  computed inside ``forward`` from ``input_ids`` by a fixed multiplicative hash
  (``ngram_bucket_ids``), so the tokenizer emits nothing extra.

All four apply dropout (``config.dropout``, default 0.5) to the pooled features before the classifier.

Each student has its own config class (``model_type`` ``lwkd-textcnn``, ``lwkd-textrcnn``,
``lwkd-dpcnn``, ``lwkd-fasttext``), registered with the Auto classes by ``lwkd_hf.text``.
``forward(input_ids, attention_mask=None, labels=None)`` returns a ``SequenceClassifierOutput``
with ``logits`` ``(batch, num_labels)`` and, given labels, the cross-entropy ``loss``. Padding
positions embed to the zero vector (``padding_idx``); only FastText reads ``attention_mask``
(to average over real tokens); the convolutional and recurrent students see the fixed-length
padded sequence, as in the reference implementation. Each student's ``flops(seq_len)`` counts 2 FLOPs
per multiply-add of its convolutions, linear layers and LSTM gates, plus 1 per element summed by
FastText's mean; embedding lookups, hashing, activations and pooling count as free. Their parameter
and FLOP counts, against the paper's, are in docs/students.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForSequenceClassification, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

#: Multipliers of the n-gram hash (from the reference FastText implementation).
HASH_PRIME_1 = 14918087
HASH_PRIME_2 = 18408749


# ----------------------------------------------------------------------------------------------- configs


class LWKDTextConfig(PreTrainedConfig):
    """Fields shared by the four students; defaults match the THUCNews character vocab (4,762, PAD 4761)."""

    vocab_size: int = 4762
    embedding_dim: int = 300
    pad_token_id: int = 4761
    dropout: float = 0.5


class TextCNNConfig(LWKDTextConfig):
    """TextCNN: ``num_filters`` feature maps for each width in ``filter_sizes``."""

    model_type = "lwkd-textcnn"
    filter_sizes: tuple[int, ...] | list[int] = (2, 3, 4)
    num_filters: int = 256


class TextRCNNConfig(LWKDTextConfig):
    """TextRCNN: BiLSTM with ``hidden_size`` units per direction and ``num_layers`` layers."""

    model_type = "lwkd-textrcnn"
    hidden_size: int = 256
    num_layers: int = 1


class DPCNNConfig(LWKDTextConfig):
    """DPCNN: ``num_filters`` feature maps in every convolution."""

    model_type = "lwkd-dpcnn"
    num_filters: int = 250


class FastTextConfig(LWKDTextConfig):
    """FastText: ``ngram_buckets`` rows in each of the bigram and trigram tables, ``hidden_size`` ReLU units."""

    model_type = "lwkd-fasttext"
    hidden_size: int = 256
    ngram_buckets: int = 250499


# ----------------------------------------------------------------------------------------------- models


class LWKDTextModel(PreTrainedModel):
    """Shared plumbing: token embedding, dropout before ``self.classifier``, cross-entropy loss.

    Subclasses build their encoder and ``self.classifier`` and implement
    ``encode(input_ids, attention_mask) -> (batch, features)`` and ``flops(seq_len)``.
    """

    config_class = LWKDTextConfig
    base_model_prefix = "student"
    main_input_name = "input_ids"
    accepts_loss_kwargs = False
    #: Shortest sequence the encoder accepts; shorter inputs are right-padded with PAD.
    min_length = 1

    def __init__(self, config: LWKDTextConfig):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.dropout)

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's N(0, 1) embeddings (PAD row zero); Xavier-normal weights and zero biases elsewhere,
        as the reference implementation's ``init_network``."""
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=1.0)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            init.xavier_normal_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                (init.xavier_normal_ if name.startswith("weight") else init.zeros_)(param)

    def load_embedding_vectors(self, vectors: torch.Tensor) -> None:
        """Copy pretrained ``(vocab_size, embedding_dim)`` vectors into the embedding (PAD row set to zero)."""
        weight = self.embedding.weight
        if tuple(vectors.shape) != tuple(weight.shape):
            raise ValueError(f"expected embedding vectors of shape {tuple(weight.shape)}, got {tuple(vectors.shape)}")
        with torch.no_grad():
            weight.copy_(vectors.to(dtype=weight.dtype, device=weight.device))
            weight[self.config.pad_token_id].zero_()

    def embed(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """``(batch, max(len, min_length), embedding_dim)`` embeddings."""
        if input_ids.shape[1] < self.min_length:
            input_ids = F.pad(input_ids, (0, self.min_length - input_ids.shape[1]), value=self.config.pad_token_id)
        return self.embedding(input_ids)

    def encode(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def flops(self, seq_len: int) -> int:
        """FLOPs for one sequence of ``seq_len`` tokens (convention in the module docstring)."""
        raise NotImplementedError

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> SequenceClassifierOutput:
        logits = self.classifier(self.dropout(self.encode(input_ids, attention_mask)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


class TextCNN(LWKDTextModel):
    """Kim (2014), "Convolutional Neural Networks for Sentence Classification"."""

    config_class = TextCNNConfig

    def __init__(self, config: TextCNNConfig):
        super().__init__(config)
        self.min_length = max(config.filter_sizes)
        self.convs = nn.ModuleList(nn.Conv1d(config.embedding_dim, config.num_filters, k) for k in config.filter_sizes)
        self.classifier = nn.Linear(config.num_filters * len(config.filter_sizes), config.num_labels)
        self.post_init()

    def encode(self, input_ids, attention_mask):
        x = self.embed(input_ids).transpose(1, 2)
        return torch.cat([F.relu(conv(x)).amax(dim=2) for conv in self.convs], dim=1)

    def flops(self, seq_len):
        c = self.config
        length = max(seq_len, self.min_length)
        conv = sum((length - k + 1) * k * c.embedding_dim * c.num_filters for k in c.filter_sizes)
        return 2 * (conv + self.classifier.in_features * c.num_labels)


class TextRCNN(LWKDTextModel):
    """Lai et al. (2015), "Recurrent Convolutional Neural Networks for Text Classification"."""

    config_class = TextRCNNConfig

    def __init__(self, config: TextRCNNConfig):
        super().__init__(config)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.classifier = nn.Linear(2 * config.hidden_size + config.embedding_dim, config.num_labels)
        self.post_init()

    def encode(self, input_ids, attention_mask):
        emb = self.embed(input_ids)
        context, _ = self.lstm(emb)
        return F.relu(torch.cat([emb, context], dim=2)).amax(dim=1)

    def flops(self, seq_len):
        c = self.config
        inputs = [c.embedding_dim] + [2 * c.hidden_size] * (c.num_layers - 1)
        lstm = sum(2 * seq_len * 4 * c.hidden_size * (n_in + c.hidden_size) for n_in in inputs)
        return 2 * (lstm + self.classifier.in_features * c.num_labels)


class DPCNN(LWKDTextModel):
    """Johnson & Zhang (2017), "Deep Pyramid Convolutional Neural Networks for Text Categorization"."""

    config_class = DPCNNConfig
    min_length = 3

    def __init__(self, config: DPCNNConfig):
        super().__init__(config)
        self.region = nn.Conv1d(config.embedding_dim, config.num_filters, 3)
        self.conv = nn.Conv1d(config.num_filters, config.num_filters, 3, padding=1)
        self.classifier = nn.Linear(config.num_filters, config.num_labels)
        self.post_init()

    def _conv_pair(self, x):
        return self.conv(F.relu(self.conv(F.relu(x))))

    def encode(self, input_ids, attention_mask):
        x = self._conv_pair(self.region(self.embed(input_ids).transpose(1, 2)))
        while x.shape[2] > 1:
            pooled = F.max_pool1d(F.pad(x, (0, 1)), kernel_size=3, stride=2)
            x = pooled + self._conv_pair(pooled)
        return x.squeeze(2)

    def flops(self, seq_len):
        c = self.config
        length = max(seq_len, self.min_length) - 2
        macs = length * 3 * c.embedding_dim * c.num_filters
        conv_pair = 2 * 3 * c.num_filters * c.num_filters
        macs += length * conv_pair
        while length > 1:
            length = (length - 2) // 2 + 1
            macs += length * conv_pair
        return 2 * (macs + c.num_filters * c.num_labels)


def ngram_bucket_ids(input_ids: torch.LongTensor, buckets: int, pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic bigram and trigram bucket ids for every position of ``input_ids`` ``(batch, len)``.

    With ``p1, p2`` the previous two ids (PAD before the start):
    ``bigram = (p1 * 14918087 + cur) % buckets`` and
    ``trigram = (((p2 * 14918087 + p1) % buckets) * 18408749 + cur) % buckets``.
    """
    input_ids = input_ids.long()
    prev1 = F.pad(input_ids[:, :-1], (1, 0), value=pad_token_id)
    prev2 = F.pad(input_ids[:, :-2], (2, 0), value=pad_token_id)[:, : input_ids.shape[1]]
    bigram = (prev1 * HASH_PRIME_1 + input_ids) % buckets
    trigram = ((prev2 * HASH_PRIME_1 + prev1) % buckets * HASH_PRIME_2 + input_ids) % buckets
    return bigram, trigram


class FastText(LWKDTextModel):
    """Joulin et al. (2017), "Bag of Tricks for Efficient Text Classification"."""

    config_class = FastTextConfig

    def __init__(self, config: FastTextConfig):
        super().__init__(config)
        self.bigram_embedding = nn.Embedding(config.ngram_buckets, config.embedding_dim)
        self.trigram_embedding = nn.Embedding(config.ngram_buckets, config.embedding_dim)
        self.classifier = nn.Sequential(
            nn.Linear(3 * config.embedding_dim, config.hidden_size),
            nn.ReLU(),
            nn.Linear(config.hidden_size, config.num_labels),
        )
        self.post_init()

    def encode(self, input_ids, attention_mask):
        bigram, trigram = ngram_bucket_ids(input_ids, self.config.ngram_buckets, self.config.pad_token_id)
        x = torch.cat([self.embed(input_ids), self.bigram_embedding(bigram), self.trigram_embedding(trigram)], dim=2)
        if attention_mask is None:
            attention_mask = input_ids != self.config.pad_token_id
        mask = attention_mask.unsqueeze(2).to(x.dtype)
        return (x * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def flops(self, seq_len):
        c = self.config
        mean = seq_len * 3 * c.embedding_dim
        return mean + 2 * (3 * c.embedding_dim * c.hidden_size + c.hidden_size * c.num_labels)


STUDENTS: dict[str, tuple[type[LWKDTextConfig], type[LWKDTextModel]]] = {
    "textcnn": (TextCNNConfig, TextCNN),
    "textrcnn": (TextRCNNConfig, TextRCNN),
    "dpcnn": (DPCNNConfig, DPCNN),
    "fasttext": (FastTextConfig, FastText),
}

# ----------------------------------------------------------------------------------------------- builders


def build_student(
    name: str,
    *,
    vocab_size: int,
    num_labels: int,
    pad_token_id: int,
    embeddings: torch.Tensor | None = None,
    **overrides,
) -> LWKDTextModel:
    """A randomly initialised student ``textcnn | textrcnn | dpcnn | fasttext``.

    ``overrides`` set config fields (e.g. ``embedding_dim``, ``dropout``, ``ngram_buckets``,
    ``id2label``). ``embeddings`` (``(vocab_size, dim)``, e.g. from
    ``lwkd_hf.text.tokenization.load_pretrained_embeddings``) sets ``embedding_dim`` and is copied in.
    """
    try:
        config_cls, model_cls = STUDENTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown student {name!r}; choose one of {sorted(STUDENTS)}") from None
    if embeddings is not None:
        overrides["embedding_dim"] = embeddings.shape[1]
    config = config_cls(vocab_size=vocab_size, num_labels=num_labels, pad_token_id=pad_token_id, **overrides)
    model = model_cls(config)
    if embeddings is not None:
        model.load_embedding_vectors(embeddings)
    return model


def build_small_bert(
    vocab_size: int, num_labels: int, *, pad_token_id: int, **overrides
) -> BertForSequenceClassification:
    """A small randomly initialised BERT (hidden 128, 2 layers, 2 heads, FFN 512, 64 positions); no download.

    ``pad_token_id`` is required: BERT's default 0 is an ordinary character in these vocabularies.
    """
    settings = dict(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=64,
    )
    settings.update(overrides)
    config = BertConfig(vocab_size=vocab_size, num_labels=num_labels, pad_token_id=pad_token_id, **settings)
    return BertForSequenceClassification(config)
